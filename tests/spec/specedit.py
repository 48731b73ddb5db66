"""A copy of the shipped spec directory that tests edit as text.

Each bad-spec test makes one small edit and compares the problems with the
exact expected text. Positions are never written as numbers in a test: they
are found in the edited text, so a change to the default specs moves them
along or fails loudly when the edited text is gone.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from irqforge.spec import DEFAULT_DIR, Spec, SpecError, load


@dataclass(frozen=True)
class Pos:
    """A 1-based position in a file of the copy, shown as ``FILE:LINE:COL``."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def msg(self, message: str) -> str:
        """The problem line expected at this position."""
        return f"{self}: {message}"


def _pos_of(file: str, text: str, index: int) -> Pos:
    before = text[:index]
    return Pos(file, before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


class SpecCopy:
    """The default spec files copied to ``root``, with text edits and lookups."""

    def __init__(self, root: Path, source: Path = DEFAULT_DIR) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        for f in sorted(source.glob("*.yaml")):
            shutil.copyfile(f, root / f.name)

    # ------------------------------------------------------------------ text

    def path(self, file: str) -> Path:
        return self.root / file

    def shown(self, file: str) -> str:
        """How the loader names ``file`` in messages (the path as given)."""
        return str(self.root / file)

    def text(self, file: str) -> str:
        return self.path(file).read_text(encoding="utf-8")

    def write(self, file: str, text: str) -> None:
        self.path(file).write_text(text, encoding="utf-8")

    def _find(self, file: str, needle: str, after: str | None = None) -> int:
        text = self.text(file)
        start = 0
        if after is not None:
            assert text.count(after) == 1, f"{after!r} occurs {text.count(after)} times in {file}"
            start = text.index(after) + len(after)
        hits = text.count(needle, start)
        assert hits >= 1, f"{needle!r} not in {file}" + (f" after {after!r}" if after else "")
        if after is None:
            assert hits == 1, f"{needle!r} occurs {hits} times in {file}; give after="
        return text.index(needle, start)

    def pos(self, file: str, needle: str, *, after: str | None = None) -> Pos:
        """Where ``needle`` starts: its only occurrence, or the first one after ``after``."""
        return _pos_of(self.shown(file), self.text(file), self._find(file, needle, after))

    def line(self, file: str, needle: str, *, after: str | None = None) -> int:
        return self.pos(file, needle, after=after).line

    def replace(self, file: str, old: str, new: str, *, at: str | None = None) -> Pos:
        """Replace the only occurrence of ``old`` by ``new``; the position of
        ``at`` inside ``new`` (default: where ``new`` starts)."""
        text = self.text(file)
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {file}"
        index = text.index(old)
        self.write(file, text[:index] + new + text[index + len(old) :])
        if at is not None:
            assert new.count(at) == 1, f"{at!r} must occur once in {new!r}"
            index += new.index(at)
        return _pos_of(self.shown(file), self.text(file), index)

    def insert_after(self, file: str, anchor: str, new: str, *, at: str | None = None) -> Pos:
        """Insert ``new`` right after the only occurrence of ``anchor``."""
        self.replace(file, anchor, anchor + new)
        index = self._find(file, anchor) + len(anchor)
        if at is not None:
            index += new.index(at)
        return _pos_of(self.shown(file), self.text(file), index)

    # ------------------------------------------------------------------ lookups

    def data(self, file: str) -> Any:
        return yaml.safe_load(self.text(file))

    def index(self, file: str, list_path: str, name: str) -> int:
        """Index of the item called ``name`` in the list at ``list_path``
        (dotted, e.g. ``device.registers``)."""
        node = self.data(file)
        for part in list_path.split("."):
            node = node[int(part)] if part.isdigit() else node[part]
        names = [item["name"] for item in node]
        assert names.count(name) == 1, f"{name!r} occurs {names.count(name)} times in {list_path}"
        return names.index(name)

    def reg(self, file: str, name: str) -> str:
        """Document path of register ``name`` of a device file: ``device.registers[4]``."""
        return f"device.registers[{self.index(file, 'device.registers', name)}]"

    # ------------------------------------------------------------------ loading

    def load(self) -> Spec:
        return load(self.root)

    def problems(self) -> list[str]:
        """Every problem reported for the copy, as ``FILE:LINE:COL: message``."""
        with pytest.raises(SpecError) as info:
            load(self.root)
        return [str(p) for p in info.value.problems]
