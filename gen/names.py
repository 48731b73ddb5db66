"""Name escaping for every output language, in one place.

The spelling of C names comes from :mod:`irqforge.spec.consumers`, which
validation uses too, so a spec that validates spells the same names here.
The spec's names are already identifiers (the schema allows
``[A-Za-z_][A-Za-z0-9_]*``), but each output has its own reserved words,
casing convention and quoting rules. Emitters and templates never build an
identifier or quote a string themselves; they call these functions (the
templates through the filters registered in :mod:`irqforge.gen.render`).

:class:`CNames` also catches macro collisions: ``REG`` + ``A_B`` and
``REG_A`` + ``B`` both spell ``REG_A_B``; a header that silently defined one
of them twice would compile with a warning at best, so generation fails
instead, naming both sources.
"""

from __future__ import annotations

import re

from irqforge.spec.consumers import C_KEYWORDS, c_comment_text, c_ident_name, c_macro_name

from .errors import GenError

__all__ = [
    "C_KEYWORDS",
    "RDL_KEYWORDS",
    "CNames",
    "c_ident",
    "c_int",
    "c_macro",
    "c_string",
    "md_cell",
    "md_code",
    "rdl_ident",
    "rdl_string",
]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: SystemRDL 2.0 keywords (from systemrdl-compiler's grammar); identifiers
#: equal to one of them are written with the ``\\`` escape.
RDL_KEYWORDS = frozenset(
    [
        "boolean",
        "bit",
        "longint",
        "unsigned",
        "string",
        "accesstype",
        "addressingtype",
        "onreadtype",
        "onwritetype",
        "alias",
        "external",
        "internal",
        "addrmap",
        "regfile",
        "reg",
        "field",
        "mem",
        "signal",
        "true",
        "false",
        "na",
        "rw",
        "wr",
        "r",
        "w",
        "rclr",
        "rset",
        "ruser",
        "woset",
        "woclr",
        "wot",
        "wzs",
        "wzc",
        "wzt",
        "wclr",
        "wset",
        "wuser",
        "compact",
        "regalign",
        "fullalign",
        "hw",
        "sw",
        "posedge",
        "negedge",
        "bothedge",
        "level",
        "nonsticky",
        "abstract",
        "all",
        "component",
        "componentwidth",
        "constraint",
        "default",
        "enum",
        "encode",
        "inside",
        "number",
        "property",
        "ref",
        "struct",
        "this",
        "type",
        "alternate",
        "byte",
        "int",
        "precedencetype",
        "real",
        "shortint",
        "shortreal",
        "signed",
        "with",
        "within",
    ]
)


def _check_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise GenError(f"{name!r} is not an identifier")
    return name


def c_macro(*parts: str) -> str:
    """An upper-case C macro name from name parts: ``c_macro("lapic", "svr")``
    → ``LAPIC_SVR``."""
    return c_macro_name(*(_check_ident(p) for p in parts if p))


def c_ident(name: str) -> str:
    """A lower-case C identifier (struct member, function), keyword-safe."""
    return c_ident_name(_check_ident(name))


def c_int(value: int, width: int = 32, *, pad: bool = False) -> str:
    """An unsigned C constant of ``width`` bits (32 or 64) in hex that keeps its
    type in both C and C++ (``UINT32_C(0x10)``; needs ``<stdint.h>``).
    ``pad`` writes all ``width / 4`` digits (masks, resets)."""
    if value < 0 or value >= 1 << width:
        raise GenError(f"{value:#x} does not fit {width} bits")
    digits = (width + 3) // 4 if pad else 1
    return f"UINT{64 if width > 32 else 32}_C(0x{value:0{digits}X})"


def c_string(text: str) -> str:
    """A C comment-safe rendering of ``text``: one line, no comment end and no
    comment start (``/*`` inside a comment trips ``-Werror=comment``)."""
    return c_comment_text(text)


class CNames:
    """Allocates C macro names for one header and refuses duplicates."""

    def __init__(self, header: str) -> None:
        self.header = header
        self._owner: dict[str, str] = {}

    def take(self, name: str, owner: str) -> str:
        """Reserve macro ``name`` (arguments of a function-like macro are
        ignored) for ``owner``, a human description of what it stands for,
        and return the bare name."""
        name = _check_ident(name.split("(", 1)[0])
        prev = self._owner.get(name)
        if prev is not None:
            raise GenError(f"{self.header}: macro {name} would stand for both {prev} and {owner}; rename one")
        self._owner[name] = owner
        return name


def md_cell(text: str) -> str:
    """Text for one Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def md_code(text: str) -> str:
    """Inline code (names, values) for Markdown."""
    text = str(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def rdl_ident(name: str) -> str:
    """A SystemRDL identifier; keywords get the ``\\`` escape."""
    _check_ident(name)
    return "\\" + name if name in RDL_KEYWORDS else name


def rdl_string(text: str) -> str:
    """A SystemRDL string literal (quotes included), one line."""
    one = " ".join(str(text).split())
    return '"' + one.replace("\\", "\\\\").replace('"', '\\"') + '"'
