"""Every generated .rdl elaborates in systemrdl-compiler and matches the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from irqforge.gen import generate
from irqforge.gen.rdl import INDEX_BYTES
from irqforge.spec import Access, Register, Spec

systemrdl = pytest.importorskip("systemrdl", reason="systemrdl-compiler is a test dependency")
from systemrdl import RDLCompiler  # noqa: E402
from systemrdl.node import FieldNode, RegNode  # noqa: E402

SW = {Access.RO: "r", Access.RW: "rw", Access.WO: "w", Access.W1C: "rw", Access.RC: "r", Access.WL: "rw"}


def _expected(regs: tuple[Register, ...], scale: int) -> dict[tuple[str, int], tuple[int, int, Register]]:
    return {(r.name, inst.index): (inst.offset * scale, r.width, r) for r in regs for inst in r.instances()}


def _elaborated(path: Path, top: str) -> dict[tuple[str, int], RegNode]:
    rdlc = RDLCompiler()
    rdlc.compile_file(str(path))
    root = rdlc.elaborate(top_def_name=top)
    found = {}
    for node in root.top.descendants(unroll=True):
        if isinstance(node, RegNode):
            idx = node.current_idx or (node.parent.current_idx if node.parent is not root.top else None) or [0]
            found[(node.inst_name, idx[0])] = node
    return found


@pytest.mark.parametrize("device", ["lapic", "ioapic", "hpet"])
def test_rdl_elaborates_and_matches_model(spec: Spec, tmp_path: Path, device: str) -> None:
    path = tmp_path / f"{device}.rdl"
    path.write_bytes(generate(spec, verilog=False)[f"rdl/{device}.rdl"])
    dev = next(d for d in spec.devices if d.name == device)
    maps = [(device, dev.registers, 1)] + [(f"{device}_indirect", w.registers, INDEX_BYTES) for w in dev.windows]
    for top, regs, scale in maps:
        found = _elaborated(path, top)
        expected = _expected(regs, scale)
        assert set(found) == set(expected), top
        for key, (addr, width, reg) in expected.items():
            node = found[key]
            assert node.absolute_address == addr, key
            assert node.get_property("regwidth") == width, key
            assert node.get_property("accesswidth") == 32, key
            fields = {f.inst_name: f for f in node.fields()}
            for f in reg.fields:
                fn: FieldNode = fields[f.name]
                assert (fn.msb, fn.lsb) == (f.msb, f.lsb)
                assert fn.get_property("reset") == f.reset
                assert fn.get_property("sw").name == SW[f.access]
                onwrite, onread = fn.get_property("onwrite"), fn.get_property("onread")
                assert (onwrite.name if onwrite else None) == ("woclr" if f.access is Access.W1C else None)
                assert (onread.name if onread else None) == ("rclr" if f.access is Access.RC else None)
                enum = fn.get_property("encode")
                if f.enums:
                    assert enum is not None
                    assert {m.name: m.value for m in enum} == {e.name: e.value for e in f.enums}
                else:
                    assert enum is None
