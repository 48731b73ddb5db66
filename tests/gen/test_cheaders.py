"""The C headers compile clean as C11 and C++17, and their values are the model's."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from irqforge.gen import GenError, generate
from irqforge.gen.cheader import gate_struct
from irqforge.gen.names import CNames
from irqforge.spec import GateField, GateLayout, GateType, Spec, VectorKind

HEADERS = ("lapic", "ioapic", "hpet", "vectors", "idt", "platform")
C_FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"]
CXX_FLAGS = ["-std=c++17", "-Wall", "-Werror"]

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed: C header tests need it")
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed: C++ header tests need it")


@pytest.fixture(scope="module")
def include_dir(spec: Spec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("include")
    for path, data in generate(spec, verilog=False).items():
        if path.startswith("include/"):
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return root / "include"


def _includes() -> str:
    # every header, twice (the guards), in an order that needs no header to come first
    return "".join(f"#include <irqforge/{h}.h>\n" for h in (*HEADERS, *reversed(HEADERS)))


def _build(tool: str, flags: list[str], src: Path, include_dir: Path, exe: Path) -> None:
    res = subprocess.run(
        [tool, *flags, f"-I{include_dir}", str(src), "-o", str(exe)], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr


@needs_gcc
def test_headers_compile_as_c11(include_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "all.c"
    src.write_text(_includes() + "int main(void) { return 0; }\n")
    _build("gcc", C_FLAGS, src, include_dir, tmp_path / "all")


@needs_gxx
def test_headers_compile_as_cxx17(include_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "all.cpp"
    src.write_text(_includes() + "int main() { return 0; }\n")
    _build("g++", [*CXX_FLAGS, "-Wextra", "-pedantic"], src, include_dir, tmp_path / "all")


def _expected_values(spec: Spec) -> dict[str, str]:
    """C expression → the value the model says it has."""
    exp: dict[str, int] = {}
    for dev in spec.devices:
        d = f"IRQFORGE_{dev.name.upper()}"
        exp[f"{d}_SIZE"] = dev.size
        for name, value in dev.params.items():
            exp[f"{d}_PARAM_{name.upper()}"] = value
        regs = [(r, "OFFSET") for r in dev.registers] + [(r, "INDEX") for w in dev.windows for r in w.registers]
        for reg, kind in regs:
            base = f"{d}_{reg.name}"
            if reg.is_array:
                for inst in reg.instances():
                    exp[f"{base}_{kind}({inst.index})"] = inst.offset
                exp[f"{base}_COUNT"] = reg.count
                exp[f"{base}_STRIDE"] = reg.stride
            else:
                exp[f"{base}_{kind}"] = reg.offset
            exp[f"{base}_RESET"] = reg.reset
            exp[f"{base}_WIDTH"] = reg.width
            for f in reg.fields:
                fb = f"{base}_{f.name}"
                exp |= {f"{fb}_SHIFT": f.lsb, f"{fb}_WIDTH": f.width, f"{fb}_MASK": f.mask, f"{fb}_RESET": f.reset}
                for e in f.enums:
                    exp[f"{fb}_{e.name}"] = e.value
                if f.enums:  # the field helpers agree with the model's Field.put/get
                    e = f.enums[-1]
                    exp[f"IRQFORGE_FIELD_PREP({fb}, {fb}_{e.name})"] = f.put(0, e.value)
                    exp[f"IRQFORGE_FIELD_GET({fb}, {hex(f.put(reg.reset, e.value))}ull)"] = e.value
    for v in spec.vectors.vectors:
        exp[f"IRQFORGE_VECTOR_{v.name}"] = v.number
    for r in spec.vectors.ranges:
        exp[f"IRQFORGE_VECTOR_{r.name}_FIRST"] = r.first
        exp[f"IRQFORGE_VECTOR_{r.name}_LAST"] = r.last
    for n in range(256):
        v = spec.vectors.at(n)
        exp[f"IRQFORGE_VECTOR_HAS_ERROR_CODE({n})"] = int(bool(v and v.error_code))
        exp[f"IRQFORGE_VECTOR_IS_EXCEPTION({n})"] = int(bool(v and v.kind.value == "exception"))
    for g, code in spec.idt.gate_types.items():
        exp[f"IRQFORGE_GATE_TYPE_{g.name}"] = code
    exp["IRQFORGE_IDT64_LIMIT"] = spec.idt.limit(64)
    p = spec.platform
    exp["IRQFORGE_PLATFORM_NCPUS"] = p.ncpus
    exp["IRQFORGE_PLATFORM_CLOCK_HZ"] = p.clock_hz
    for cpu in p.cpus:
        exp[f"IRQFORGE_PLATFORM_CPU{cpu.index}_APIC_ID"] = cpu.apic_id
    for name, (base, size) in p.address_map.items():
        exp[f"IRQFORGE_PLATFORM_{name.upper()}_BASE"] = base
        exp[f"IRQFORGE_PLATFORM_{name.upper()}_SIZE"] = size
    for irq in range(24):
        exp[f"IRQFORGE_PLATFORM_ISA_IRQ_PIN({irq})"] = p.isa_pin(irq)
    exp["IRQFORGE_PLATFORM_HPET_LEGACY_TIMER0_PIN"] = p.hpet_legacy_pins[0]
    exp["IRQFORGE_PLATFORM_HPET_LEGACY_TIMER1_PIN"] = p.hpet_legacy_pins[1]
    return {k: str(v) for k, v in exp.items()}


@needs_gcc
def test_header_values_match_the_model(spec: Spec, include_dir: Path, tmp_path: Path) -> None:
    expected = _expected_values(spec)
    body = "".join(f'    printf("%s %llu\\n", "{k}", (unsigned long long)({k}));\n' for k in expected)
    src = tmp_path / "values.c"
    src.write_text(f"#include <stdio.h>\n{_includes()}int main(void)\n{{\n{body}    return 0;\n}}\n")
    _build("gcc", C_FLAGS, src, include_dir, tmp_path / "values")
    out = subprocess.run([tmp_path / "values"], capture_output=True, text=True, check=True).stdout
    got = dict(line.rsplit(" ", 1) for line in out.splitlines())
    assert got == expected
    # the X-macro table lists every named vector with its attributes
    table = tmp_path / "table.c"
    table.write_text(
        "#include <stdio.h>\n#include <irqforge/vectors.h>\n"
        "#define ROW(n, name, kind, cls, ec, ist, dpl, gate) "
        'printf("%d %s %d %d %d %d %d\\n", n, #name, IRQFORGE_VECTOR_KIND_##kind, ec, ist, dpl, '
        "IRQFORGE_VECTOR_GATE_##gate);\n"
        "int main(void) { IRQFORGE_VECTOR_TABLE(ROW) return 0; }\n"
    )
    _build("gcc", C_FLAGS, table, include_dir, tmp_path / "table")
    rows = subprocess.run([tmp_path / "table"], capture_output=True, text=True, check=True).stdout.splitlines()
    kinds, gates = list(VectorKind), list(GateType)
    want = [
        f"{v.number} {v.name} {kinds.index(v.kind)} {int(v.error_code)} {v.ist} {v.dpl} {gates.index(v.gate)}"
        for v in sorted(spec.vectors.vectors, key=lambda v: v.number)
    ]
    assert rows == want


GATE_TEST = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <irqforge/idt.h>

static int hexbytes(const char *hex, uint8_t out[16])
{
    for (int i = 0; i < 16; i++) {
        unsigned b;
        if (sscanf(hex + 2 * i, "%2x", &b) != 1) return 1;
        out[i] = (uint8_t)b;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (sizeof(struct irqforge_gate64) != 16) { puts("size"); return 2; }
    if (offsetof(struct irqforge_gate64, offset_low) != 0 || offsetof(struct irqforge_gate64, segment) != 2
        || offsetof(struct irqforge_gate64, attr) != 4 || offsetof(struct irqforge_gate64, offset_middle) != 6
        || offsetof(struct irqforge_gate64, offset_high) != 8 || offsetof(struct irqforge_gate64, reserved) != 12) {
        puts("offsets");
        return 2;
    }
    for (int a = 1; a + 6 <= argc; a += 6) {
        uint64_t offset = strtoull(argv[a], NULL, 16);
        uint32_t sel = (uint32_t)strtoul(argv[a + 1], NULL, 16);
        uint32_t type = (uint32_t)strtoul(argv[a + 2], NULL, 16);
        uint32_t dpl = (uint32_t)strtoul(argv[a + 3], NULL, 16);
        uint32_t ist = (uint32_t)strtoul(argv[a + 4], NULL, 16);
        uint8_t want[16], got[16];
        if (hexbytes(argv[a + 5], want)) { puts("bad hex"); return 2; }
        struct irqforge_gate64 g = irqforge_gate64_pack(offset, sel, type, dpl, ist, 1);
        irqforge_gate64_to_bytes(&g, got);
        if (memcmp(got, want, 16) != 0) { printf("bytes of case %d\n", a / 6); return 1; }
        if (memcmp(&g, want, 16) != 0) { printf("memory of case %d\n", a / 6); return 1; }
        struct irqforge_gate64 back = irqforge_gate64_from_bytes(want);
        struct irqforge_gate64_fields f = irqforge_gate64_unpack(&back);
        if (f.offset != offset || f.segment != sel || f.type != type || f.dpl != dpl || f.ist != ist || f.p != 1
            || f.zero != 0 || f.reserved != 0) {
            printf("unpack of case %d\n", a / 6);
            return 1;
        }
        if (back.attr != IRQFORGE_GATE64_ATTR_PRESENT(type, dpl, ist)) { printf("attr of case %d\n", a / 6); return 1; }
        printf("attr %04X\n", (unsigned)g.attr);
    }
    return 0;
}
"""


@needs_gcc
def test_gate_pack_matches_python(spec: Spec, include_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "gate.c"
    src.write_text(GATE_TEST)
    _build("gcc", C_FLAGS, src, include_dir, tmp_path / "gate")
    off = 0xFFFFFFFF81234567
    cases = [  # (gate type, dpl, ist, attribute word Linux documents)
        (GateType.INTERRUPT, 0, 0, 0x8E00),
        (GateType.INTERRUPT, 0, 2, 0x8E02),  # NMI on IST 2
        (GateType.INTERRUPT, 3, 0, 0xEE00),  # system gate
        (GateType.TRAP, 0, 0, 0x8F00),
    ]
    args: list[str] = []
    for gt, dpl, ist, _ in cases:
        raw = spec.idt.gate(off, gt, dpl=dpl, ist=ist, selector=0x10)
        args += [f"{off:x}", "10", f"{spec.idt.gate_types[gt]:x}", str(dpl), str(ist), raw.hex()]
    res = subprocess.run([tmp_path / "gate", *args], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.split() == [w for _, _, _, word in cases for w in ("attr", f"{word:04X}")]
    # a wrong expectation is caught
    bad = [*args[:5], "00" * 16]
    assert subprocess.run([tmp_path / "gate", *bad], capture_output=True, check=False).returncode == 1


def test_gate_struct_layout(spec: Spec) -> None:
    gs = gate_struct(spec.idt.layout(64))
    assert [(m.name, m.ctype, m.offset) for m in gs.members] == [
        ("offset_low", "uint16_t", 0),
        ("segment", "uint16_t", 2),
        ("attr", "uint16_t", 4),
        ("offset_middle", "uint16_t", 6),
        ("offset_high", "uint32_t", 8),
        ("reserved", "uint32_t", 12),
    ]
    assert gs.member_of("dpl")[1:] == (13, 2)


def test_gate_struct_refuses_holes() -> None:
    lay = GateLayout("g", 32, 8, (GateField("a", 0, 16), GateField("b", 20, 44)), ("a",))
    with pytest.raises(GenError, match="no field at bit 16"):
        gate_struct(lay)


def test_macro_collisions_are_errors() -> None:
    names = CNames("x.h")
    names.take("IRQFORGE_X_A_B_SHIFT", "field X.A_B")
    with pytest.raises(GenError, match=re.escape("field X.A_B and field X_A.B")):
        names.take("IRQFORGE_X_A_B_SHIFT", "field X_A.B")
