"""ASCII bit-field diagrams, datasheet style.

A register (or a gate descriptor) is drawn in rows of at most 32 bits, most
significant row first. Each field is a box sized to its label, not to its
bit count, with its bit range above the box edges; unnamed bits are drawn
as ``reserved`` boxes, and a field that crosses a row boundary is split and
labelled with its slice (``COUNTER[63:32]``)::

     31         24 23                 0
    +-------------+--------------------+
    |     ID      |      reserved      |
    |     rw      |                    |
    +-------------+--------------------+
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Bits", "diagram"]

RESERVED = "reserved"


@dataclass(frozen=True)
class Bits:
    """One named bit range to draw (``note`` is printed under the name)."""

    name: str
    msb: int
    lsb: int
    note: str = ""


@dataclass(frozen=True)
class _Box:
    msb: int
    lsb: int
    label: str
    note: str

    @property
    def inner(self) -> int:
        if self.msb == self.lsb:
            nums = len(str(self.msb))
        else:
            nums = len(str(self.msb)) + len(str(self.lsb)) + 1
        return max(len(self.label), len(self.note), nums) + 2


def _row(fields: Sequence[Bits], hi: int, lo: int) -> list[_Box]:
    """The boxes of bits ``hi..lo``, gaps filled with reserved boxes."""
    boxes: list[_Box] = []
    bit = hi
    for f in sorted(fields, key=lambda f: -f.msb):
        if f.lsb > hi or f.msb < lo:
            continue
        top, bottom = min(f.msb, hi), max(f.lsb, lo)
        if top < bit:
            boxes.append(_Box(bit, top + 1, RESERVED, ""))
        label = f.name
        if (top, bottom) != (f.msb, f.lsb):
            label += f"[{top}]" if top == bottom else f"[{top}:{bottom}]"
        boxes.append(_Box(top, bottom, label, f.note))
        bit = bottom - 1
    if bit >= lo:
        boxes.append(_Box(bit, lo, RESERVED, ""))
    return boxes


def _draw(boxes: Sequence[_Box], with_notes: bool) -> list[str]:
    nums, rule, names, notes = [], [], [], []
    for b in boxes:
        w = b.inner
        if b.msb == b.lsb:
            nums.append(" " + str(b.msb).center(w))
        else:
            lsb = str(b.lsb)
            nums.append(" " + str(b.msb).ljust(w - len(lsb)) + lsb)
        rule.append("+" + "-" * w)
        names.append("|" + b.label.center(w))
        notes.append("|" + b.note.center(w))
    lines = ["".join(nums).rstrip(), "".join(rule) + "+", "".join(names) + "|"]
    if with_notes:
        lines.append("".join(notes) + "|")
    lines.append(lines[1])
    return lines


def diagram(fields: Sequence[Bits], width: int, row_bits: int = 32) -> list[str]:
    """The diagram of a ``width``-bit value holding ``fields``, as lines.

    Rows hold ``row_bits`` bits each (one row for a 32-bit register, two for a
    64-bit one, four for a 128-bit gate descriptor), separated by a blank line.
    """
    with_notes = any(f.note for f in fields)
    out: list[str] = []
    for hi in range(width - 1, -1, -row_bits):
        lo = max(0, hi - row_bits + 1)
        if out:
            out.append("")
        out.extend(_draw(_row(fields, hi, lo), with_notes))
    return out
