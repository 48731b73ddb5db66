"""YAML loading that keeps the line and column of every value.

The tree comes back as plain dicts, lists and scalars (what jsonschema and the
model builder want) together with a :class:`Marks` table from document path to
source position. PyYAML's YAML 1.1 sexagesimal integers are switched off, so
``bits: 31:24`` is the string ``"31:24"`` and not 1884.

Parsing uses libyaml when PyYAML has it (about ten times faster); syntax
errors are always reported with the pure-Python parser's wording so that
messages do not depend on how PyYAML was built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem

Path_ = tuple[str | int, ...]

_INT = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?)$")


def _resolvers() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    """SafeLoader's implicit resolvers without sexagesimal numbers, ``.inf`` and ``.nan``."""
    out: dict[Any, list[tuple[str, re.Pattern[str]]]] = {
        k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    for tag, rx, first in (
        ("tag:yaml.org,2002:int", _INT, "-+0123456789"),
        ("tag:yaml.org,2002:float", _FLOAT, "-+0123456789."),
    ):
        for ch in first:
            out.setdefault(ch, []).append((tag, rx))
    return out


class _Loader(yaml.SafeLoader):
    """Pure-Python SafeLoader without sexagesimal integers and floats."""


_Loader.yaml_implicit_resolvers = _resolvers()

if getattr(yaml, "__with_libyaml__", False):

    class _FastLoader(yaml.CSafeLoader):
        """libyaml SafeLoader with the same resolvers as :class:`_Loader`."""

    _FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
    _COMPOSER: type = _FastLoader
else:  # pragma: no cover - PyYAML wheels ship libyaml
    _COMPOSER = _Loader


def fmt_path(path: Path_) -> str:
    """A document path as text: ``device.registers[3].fields[0].bits``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(document)"


@dataclass
class Marks:
    """Source positions of a loaded document."""

    file: str
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def at(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """Position of the value (or of its key) at ``path``; the closest
        enclosing position when the path itself has none (a missing key)."""
        table = self.keys if key else self.values
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if p in self.values:
                return self.values[p]
            p = p[:-1]
        return self.values.get((), (1, 1))

    def problem(self, path: Path_, message: str, *, key: bool = False) -> Problem:
        line, col = self.at(path, key=key)
        return Problem(self.file, line, col, message)


@dataclass
class Document:
    """A parsed YAML file: the plain tree, where each part came from, and the
    problems that did not stop parsing (duplicate keys, merge keys)."""

    data: Any
    marks: Marks
    problems: list[Problem] = field(default_factory=list)
    complete: bool = True
    """Whether the tree holds everything the text says: a dropped merge key
    (``<<``) leaves keys out, so missing-key checks would mislead."""


class YamlError(Exception):
    """The file is not YAML; parsing stopped at :attr:`problem`."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def load_yaml(text: str, file: str) -> Document:
    """Parse ``text``; ``file`` is the name used in positions.

    Raises :class:`YamlError` when the text is not YAML. A repeated key is
    reported and its first value kept, so the rest of the file is still checked.
    """
    marks = Marks(file)
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.YAMLError as fast_error:
        raise YamlError(_syntax_problem(text, file, fast_error)) from None
    doc = Document(None, marks)
    if node is not None:
        constructor = yaml.constructor.SafeConstructor()  # it caches per node: one per document
        doc.data = _convert(node, (), doc, constructor)
    return doc


def load_file(path: Path, name: str | None = None) -> Document:
    """Parse the YAML file at ``path`` (shown as ``name`` in positions)."""
    return load_yaml(path.read_text(encoding="utf-8"), name or path.name)


def _syntax_problem(text: str, file: str, fast_error: yaml.YAMLError) -> Problem:
    """The problem of a text that does not parse, in the pure-Python parser's words."""
    error = fast_error
    if _COMPOSER is not _Loader:
        try:
            yaml.compose(text, Loader=_Loader)
        except yaml.YAMLError as e:
            error = e
    if isinstance(error, yaml.reader.ReaderError):
        before = text[: error.position]
        line = before.count("\n") + 1
        col = error.position - (before.rfind("\n") + 1) + 1
        char = error.character if isinstance(error.character, str) else chr(error.character)
        return Problem(file, line, col, f"YAML: unacceptable character U+{ord(char):04X} ({error.reason})")
    if isinstance(error, yaml.MarkedYAMLError):
        m = error.problem_mark
        line, col = (m.line + 1, m.column + 1) if m is not None else (1, 1)
        message = f"YAML syntax: {error.problem}"
        if error.context and error.context_mark is not None:
            message += f" ({error.context} that starts on line {error.context_mark.line + 1})"
        return Problem(file, line, col, message)
    return Problem(file, 1, 1, f"YAML: {error}")  # pragma: no cover - every PyYAML error is one of the above


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _convert(node: yaml.Node, path: Path_, doc: Document, c: yaml.constructor.SafeConstructor) -> Any:
    marks, problems = doc.marks, doc.problems
    marks.values[path] = _pos(node)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            if knode.tag == "tag:yaml.org,2002:merge":
                problems.append(
                    Problem(
                        marks.file,
                        *_pos(knode),
                        f"{fmt_path(path)}: YAML merge keys (<<) are not supported; "
                        "give the keys, or use an alias for the whole mapping",
                    )
                )
                doc.complete = False
                continue
            key = c.construct_object(knode, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                first, _ = marks.keys[(*path, key)]
                problems.append(
                    Problem(
                        marks.file,
                        *_pos(knode),
                        f"{fmt_path((*path, key))}: duplicate key {key!r} (first given on line {first})",
                    )
                )
                continue
            marks.keys[(*path, key)] = _pos(knode)
            out[key] = _convert(vnode, (*path, key), doc, c)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(n, (*path, i), doc, c) for i, n in enumerate(node.value)]
    return c.construct_object(node, deep=True)
