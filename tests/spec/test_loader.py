"""The loader on good specs: the shipped defaults, the linux-2.6 example, and how
files are named in messages. (How fast the defaults load is a figure for
``irqforge bench``, not a test.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from specedit import SpecCopy

from irqforge.spec import DEFAULT_DIR, VectorKind, load, load_default, spec_files
from irqforge.spec.build import EXAMPLES_DIR

LINUX_26 = EXAMPLES_DIR / "linux-2.6"


def test_default_specs_validate() -> None:
    spec = load_default()
    assert spec.lapic.offset("EOI") == 0xB0
    assert spec.vectors["LOCAL_TIMER_VECTOR"] == 0xEC
    assert spec.vectors.spurious == 0xFF
    assert spec.source == "irqforge default specs"


def test_default_positions_name_the_shipped_files() -> None:
    spec = load_default()
    loc = spec.lapic.register("EOI").loc
    assert loc is not None
    assert loc.file == "spec/default/lapic.yaml"
    assert (
        DEFAULT_DIR.joinpath("lapic.yaml").read_text().splitlines()[loc.line - 1][loc.col - 1 :].startswith("name: EOI")
    )
    # the same directory given by path is still the shipped one
    given = load(DEFAULT_DIR).platform.cpus[0].loc
    assert given is not None and given.file == "spec/default/platform.yaml"


def test_user_directory_named_as_given(spec_copy: SpecCopy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(spec_copy.root.parent)
    relative = Path(spec_copy.root.name)
    loc = load(relative).hpet.register("GCAP_ID").loc
    assert loc is not None and loc.file == f"{relative}/hpet.yaml"
    # an absolute path inside the working directory is shown relative to it
    loc = load(spec_copy.root).hpet.register("GCAP_ID").loc
    assert loc is not None and loc.file == f"{relative}/hpet.yaml"


def test_user_directory_outside_the_working_directory_is_shown_whole(spec_copy: SpecCopy) -> None:
    loc = load(spec_copy.root).idt.layout(64).loc
    assert loc is not None and loc.file == str(spec_copy.root / "idt.yaml")


def test_spec_files() -> None:
    names = [p.name for p in spec_files()]
    assert names == sorted(["idt.yaml", "vectors.yaml", "lapic.yaml", "ioapic.yaml", "hpet.yaml", "platform.yaml"])
    assert all(p.parent == DEFAULT_DIR for p in spec_files())
    assert spec_files("x")[0] == Path("x") / names[0]


def test_digest_follows_the_meaning_not_the_bytes(spec_copy: SpecCopy) -> None:
    before = spec_copy.load().digest
    assert before == load_default().digest
    # comments, blank lines, quoting and hex-vs-decimal change the bytes, not the spec
    text = spec_copy.text("platform.yaml")
    spec_copy.write("platform.yaml", "# a comment\n\n" + text.replace("\n", "  # note\n", 1))
    spec_copy.write("lapic.yaml", spec_copy.text("lapic.yaml").replace("offset: 0x0F0", "offset: 240"))
    assert spec_copy.load().digest == before
    spec_copy.replace("platform.yaml", "Two CPUs", "Two simulated CPUs")
    assert spec_copy.load().digest != before


# --------------------------------------------------------------------------- the linux-2.6 example


def test_linux_26_example_validates() -> None:
    spec = load(LINUX_26)
    v = spec.vectors
    assert v["LOCAL_TIMER_VECTOR"] == 0xEF
    assert v["LOCAL_PERF_VECTOR"] == 0xEE
    assert [v[f"INVALIDATE_TLB_VECTOR_{i}"] for i in range(8)] == list(range(0xF0, 0xF8))
    assert v.range("DEVICE").first == 0x41  # FIRST_DEVICE_VECTOR = IRQ15_VECTOR + 2
    assert v.kind_of(0x40) is VectorKind.RESERVED
    assert v.spurious == 0xFF
    assert spec.source == "linux-2.6"
    loc = v.by_name("LOCAL_TIMER_VECTOR").loc
    assert loc is not None and loc.file == "spec/examples/linux-2.6/vectors.yaml"


@pytest.mark.parametrize("name", ["idt.yaml", "lapic.yaml", "ioapic.yaml", "hpet.yaml", "platform.yaml"])
def test_linux_26_example_shares_the_default_hardware(name: str) -> None:
    assert (LINUX_26 / name).read_bytes() == (DEFAULT_DIR / name).read_bytes(), (
        f"spec/examples/linux-2.6/{name} is a copy of spec/default/{name}; copy it again: "
        f"cp spec/default/{name} spec/examples/linux-2.6/"
    )
