"""Fuzzing the spec loader with mutations of the default specs (hypothesis).

Two fast properties run 1,500 and 1,000 examples in the default run — the
same ones every run (tests/conftest.py's ``derandomized`` hypothesis profile),
so CI never fails on a mutant a lucky run happened to draw — and four times as
many new ones each run with ``--long`` (the ``explore`` profile): whatever the
mutation — keys, types, values, names that collide after case folding or C
mangling, reserved words, YAML structure, tags, anchors, truncation —
:func:`irqforge.spec.load` either returns a spec or raises
:class:`SpecError`; nothing else escapes. Every mutant that validates
is generated (the headers, docs, SystemRDL and schema) there and then.

A slower property (one example in the default run, twelve with ``--long``,
about half a minute each) takes mutants that stay valid (pin and timer counts, CPU
counts, descriptions with comment markers, renamed optional registers) all
the way: Verilog that lints, headers that compile with ``-Werror`` as C11
and C++17, and the default scenario on the reference models.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from specedit import SpecCopy

from irqforge.gen import generate
from irqforge.sim import toolchain
from irqforge.spec import DEFAULT_DIR, Spec, SpecError, load
from irqforge.spec.consumers import C_KEYWORDS, PYTHON_KEYWORDS, VERILOG_KEYWORDS
from irqforge.spec.schema import FILES

NAMES = sorted(FILES)
TEXTS = {f: (DEFAULT_DIR / f).read_text(encoding="utf-8") for f in NAMES}
TREES = {f: yaml.safe_load(TEXTS[f]) for f in NAMES}
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _names(node: Any) -> set[str]:
    if isinstance(node, dict):
        own = {node["name"]} if isinstance(node.get("name"), str) else set()
        return own.union(*(_names(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_names(v) for v in node))
    return set()


_ALL_NAMES = sorted(set().union(*(_names(t) for t in TREES.values())))


_NASTY_TEXT = [
    "", " ", "TPR", "tpr", "COUNT", "DEVICE_FIRST", "LO_VECTOR", "ICR_LO", "offset", "attr", "attr0", "int",
    "module", "class", "in", "/* x */", "a */ b", "*/", "/*", "\\", "'", '"', "\n", "1 << 40", "1 << 64", "pins - 1",
    "pins * pins * pins", "(((((1)))))", "1 +" * 30 + "1", "x" * 300, "7:0", "0:7", "99:0", "31:24", "éè", "\x00",
    "0x", "-1", "1e9", ":100:", ":1234:", ":smile:", "[bold]x[/bold]",
]  # fmt: skip
_NASTY_INT = st.sampled_from(
    [0, 1, -1, 2, 7, 8, 15, 16, 17, 23, 24, 31, 32, 33, 63, 64, 255, 256, 0xFF, 0xFFFF, 2**31, 2**32 - 1, 2**32,
     2**63, 2**64 - 1, 2**64, 10**12, 5_000_000_000]
)  # fmt: skip
_SCALARS = (
    st.sampled_from(_NASTY_TEXT)
    | _NASTY_INT
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([7.0, 10000000.0, 0.5])
    | st.text(max_size=12)
    | st.booleans()
    | st.none()
    | st.sampled_from(_ALL_NAMES)
    | st.sampled_from(sorted(C_KEYWORDS | VERILOG_KEYWORDS | PYTHON_KEYWORDS))
)
_VALUES = st.recursive(
    _SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3), max_leaves=5
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


def _get(tree: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        tree = tree[p]
    return tree


def _file(draw: st.DrawFn, shard: int) -> str:
    """A spec file; the shard turns the choice, so that derandomized shards (one seed: the test's) differ."""
    return NAMES[(draw(st.integers(0, len(NAMES) - 1)) + shard) % len(NAMES)]


@st.composite
def tree_mutants(draw: st.DrawFn, shard: int = 0) -> tuple[str, str]:
    """One file of the default specs, its parsed tree changed 1-3 times, dumped again."""
    fname = _file(draw, shard)
    tree = copy.deepcopy(TREES[fname])
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(tree)[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = _get(tree, path[:-1]), path[-1]
        op = draw(st.sampled_from(["replace", "replace", "delete", "rename_key", "dup", "name", "casefold", "nudge"]))
        if op == "replace":
            parent[last] = draw(_VALUES)
        elif op == "delete":
            del parent[last]
        elif op == "rename_key" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["nme", "Name", "bits ", "count", "offset", "x", last.upper()]))] = parent.pop(
                last
            )
        elif op == "dup" and isinstance(parent, list):
            parent.insert(last, copy.deepcopy(parent[last]))
        elif op == "name" and isinstance(parent, dict) and "name" in parent:
            parent["name"] = draw(st.sampled_from(_ALL_NAMES) | st.sampled_from(_NASTY_TEXT[:16]))
        elif op == "casefold" and isinstance(parent, dict) and isinstance(parent.get("name"), str):
            parent["name"] = parent["name"].lower()
        elif op == "nudge" and isinstance(parent[last], int) and not isinstance(parent[last], bool):
            parent[last] += draw(st.sampled_from([-1, 1, 16, 1 << 32, -(1 << 8)]))
    if draw(st.integers(0, 3)):  # mostly JSON (YAML's subset, ten times cheaper to write), sometimes block YAML
        return fname, json.dumps(tree, indent=1)
    return fname, yaml.dump(tree, Dumper=_DUMPER, sort_keys=False)


_TOKENS = [
    "[", "]", "{", "}", ":", "- ", "&a ", "*a", "*b", "!!python/name:os.system ", "!include ", "!!binary ", "!!set ",
    "<<: ", "? ", "---\n", "...\n", "%YAML 1.1\n", "\t", "'", '"', "#", "|", ">", "\n  ", "\x07", "\ufeff", "7.0",
    "10000000.0", "0b", "0x", "1_000", "~", "=", "2024-01-01", "0o17", "1:30", "yes", "on", "[[[[[[[[", "]]]]",
]  # fmt: skip


@st.composite
def text_mutants(draw: st.DrawFn, shard: int = 0) -> tuple[str, str]:
    """One file of the default specs with its text cut, doubled or spliced."""
    fname = _file(draw, shard)
    text = TEXTS[fname]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "insert", "delete", "truncate", "line_dup", "line_del", "indent"]))
        if op == "insert":
            text = text[:at] + draw(st.sampled_from(_TOKENS) | st.text(max_size=4)) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        elif op == "truncate":
            text = text[:at]
        else:
            lines = text.split("\n")
            i = at * len(lines) // (len(text) + 1)
            if op == "line_dup":
                lines.insert(i, lines[i])
            elif op == "line_del":
                del lines[i]
            else:
                lines[i] = " " * draw(st.integers(1, 3)) + lines[i]
            text = "\n".join(lines)
    return fname, text


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> SpecCopy:
    return SpecCopy(tmp_path_factory.mktemp("fuzz") / "spec")


_DIRTY: dict[Path, str] = {}
"""The file of each fuzz folder that holds a mutant (restored lazily: one write per example)."""


def _load_mutant(spec_dir: SpecCopy, fname: str, text: str) -> Spec | None:
    """The mutant's spec, or None when it is refused; anything but SpecError fails the test."""
    dirty = _DIRTY.get(spec_dir.root)
    if dirty is not None and dirty != fname:
        spec_dir.write(dirty, TEXTS[dirty])
    spec_dir.write(fname, text)
    _DIRTY[spec_dir.root] = fname
    try:
        return load(spec_dir.root)
    except SpecError as e:
        assert e.problems, "a SpecError without problems"
        for p in e.problems:
            assert p.line >= 1 and p.col >= 1 and "\n" not in p.message, str(p)
        return None


_FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


#: the examples of each fuzz test are split over this many test cases, so that
#: pytest-xdist runs them in parallel (each shard its own examples: the shard turns the file choice)
SHARDS = 4
#: examples per run: the same ones every run (the ``derandomized`` profile of tests/conftest.py);
#: ``--long`` sets 6000 and 4000 and draws new ones each run (the ``explore`` profile). The default
#: run's share is a fixed sample of the same two properties; the rest of the search is ``--long``'s.
TREE_EXAMPLES = int(os.environ.get("IRQFORGE_FUZZ_TREE", "1500"))
TEXT_EXAMPLES = int(os.environ.get("IRQFORGE_FUZZ_TEXT", "1000"))


@pytest.mark.parametrize("shard", range(SHARDS))
@settings(_FAST, max_examples=max(1, TREE_EXAMPLES // SHARDS))
@given(data=st.data())
def test_tree_mutants_validate_or_fail_cleanly(fuzz_dir: SpecCopy, data: st.DataObject, shard: int) -> None:
    spec = _load_mutant(fuzz_dir, *data.draw(tree_mutants(shard), label="mutant"))
    if spec is not None:  # IP-XACT (0.15 s through systemrdl-compiler) in the valid mutants' test below
        assert generate(spec, verilog=False, ipxact=False)


@pytest.mark.parametrize("shard", range(SHARDS))
@settings(_FAST, max_examples=max(1, TEXT_EXAMPLES // SHARDS))
@given(data=st.data())
def test_text_mutants_validate_or_fail_cleanly(fuzz_dir: SpecCopy, data: st.DataObject, shard: int) -> None:
    spec = _load_mutant(fuzz_dir, *data.draw(text_mutants(shard), label="mutant"))
    if spec is not None:  # IP-XACT (0.15 s through systemrdl-compiler) in the valid mutants' test below
        assert generate(spec, verilog=False, ipxact=False)


# --------------------------------------------------------------------------- valid mutants, all the way


@st.composite
def valid_mutants(draw: st.DrawFn) -> dict[str, str]:
    """Edits that keep the spec valid: the whole spec's changed files."""
    trees = {f: copy.deepcopy(TREES[f]) for f in NAMES}
    trees["ioapic.yaml"]["device"]["params"]["pins"] = draw(st.integers(17, 64))
    timers = draw(st.integers(1, 24))  # 24 timers fill the 1 KiB page
    trees["hpet.yaml"]["device"]["params"]["timers"] = timers
    ncpus = draw(st.integers(1, 4))
    trees["platform.yaml"]["platform"]["cpus"] = [{"apic_id": i} for i in range(ncpus)]
    comment = draw(st.sampled_from(["a /* nested */ comment", "ends */ here", "// line", "100% :100: [b]x[/b]"]))
    reg = draw(st.sampled_from(trees["lapic.yaml"]["device"]["registers"]))
    reg["description"] = comment
    return {f: yaml.dump(t, Dumper=_DUMPER, sort_keys=False) for f, t in trees.items()}


def _lint(tool: Path, sources: list[Path], waivers: Path, top: str) -> None:
    res = subprocess.run(
        [str(tool), "--lint-only", "-Wall", str(waivers), *map(str, sources), "--top-module", top],
        capture_output=True,
        text=True,
        env={**os.environ, **toolchain.sim_env("verilator")},
        timeout=600,
    )
    warnings = [line for line in res.stderr.splitlines() if line.startswith("%")]
    assert res.returncode == 0 and not warnings, "\n".join(warnings[:20])


def _compile(tool: str, flags: list[str], include: Path, src: Path) -> None:
    res = subprocess.run([tool, *flags, f"-I{include}", str(src), "-o", str(src.with_suffix(""))],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr


@settings(deadline=None, max_examples=1, suppress_health_check=[HealthCheck.too_slow])
@given(files=valid_mutants())
def test_a_valid_mutant_generates_lints_compiles_and_simulates(
    tmp_path_factory: pytest.TempPathFactory, files: dict[str, str]
) -> None:
    _all_the_way(tmp_path_factory, files)


@pytest.mark.long
@settings(deadline=None, max_examples=12, suppress_health_check=[HealthCheck.too_slow])
@given(files=valid_mutants())
def test_valid_mutants_generate_lint_compile_and_simulate(
    tmp_path_factory: pytest.TempPathFactory, files: dict[str, str]
) -> None:
    _all_the_way(tmp_path_factory, files)


def _all_the_way(tmp_path_factory: pytest.TempPathFactory, files: dict[str, str]) -> None:
    """Verilog that lints, headers that compile as C11 and C++17 with -Werror, the default scenario."""
    from irqforge.sim.backends import run_scenario

    root = tmp_path_factory.mktemp("valid")
    spec_dir = root / "spec"
    spec_dir.mkdir()
    for f, text in files.items():
        (spec_dir / f).write_text(text, encoding="utf-8")
    spec = load(spec_dir)
    out = root / "out"
    for rel, data in generate(spec).items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    include = out / "include"
    headers = sorted(p.stem for p in (include / "irqforge").glob("*.h"))
    body = "".join(f"#include <irqforge/{h}.h>\n" for h in headers)
    if shutil.which("gcc"):
        (root / "all.c").write_text(body + "int main(void) { return 0; }\n")
        _compile("gcc", ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"], include, root / "all.c")
    if shutil.which("g++"):
        (root / "all.cpp").write_text(body + "int main() { return 0; }\n")
        _compile("g++", ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"], include, root / "all.cpp")
    tool = toolchain.find_verilator()
    if tool.ok and tool.path is not None:
        sources = sorted((out / "verilog").glob("irqforge_*.v"))
        for v in sources:
            _lint(tool.path, sources, out / "verilog" / "lint.vlt", v.stem)
    result = run_scenario("model", "irqforge.sw.scenario:default_scenario", spec)
    assert result["cpus"] == spec.platform.ncpus and not result["oopses"]
