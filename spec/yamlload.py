"""YAML loading that keeps the line and column of every value, within bounds.

The tree comes back as plain dicts, lists and scalars (what jsonschema and the
model builder want) together with a :class:`Marks` table from document path to
source position. PyYAML's YAML 1.1 sexagesimal integers, timestamps and ``=``
are switched off, so ``bits: 31:24`` is the string ``"31:24"`` and not 1884.

The tree is built from libyaml's event stream by a loop, not by PyYAML's
recursive composer, so that every limit is checked *before* any work grows
with it (a spec is a few kilobytes; these limits are far above any real one):

- :data:`MAX_FILE_BYTES` per file (checked by the caller before reading),
- :data:`MAX_DEPTH` levels of nesting (200,000 ``[`` would overflow the
  C stack of a recursive composer),
- :data:`MAX_VALUES` values after alias expansion (a "billion laughs" alias
  bomb stops after that many, not after gigabytes), and no alias of a node
  from inside itself (a recursive alias),
- only YAML's plain tags (strings, integers, floats, booleans, null, lists,
  mappings): ``!!python/name:…`` or ``!include`` are refused,
- integers of at most 64 bits.

Each is a :class:`~irqforge.spec.errors.Problem` at the offending position.
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


_DROPPED = ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value")


def _resolvers() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    """SafeLoader's implicit resolvers without sexagesimal numbers, ``.inf`` and ``.nan``."""
    out: dict[Any, list[tuple[str, re.Pattern[str]]]] = {
        k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    # no timestamps ("2024-01-01" stays a string) and no "=" (PyYAML cannot construct it)
    out = {k: [(tag, rx) for tag, rx in v if tag not in _DROPPED] for k, v in out.items()}
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
    texts: dict[Path_, str] = field(default_factory=dict)
    """The source text of each integer, so messages echo ``100`` as written, not ``0x64``."""

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

    Raises :class:`YamlError` when the text is not YAML or breaks one of the
    limits above. A repeated key is reported and its first value kept, so the
    rest of the file is still checked.
    """
    doc = Document(None, Marks(file))
    loader = _COMPOSER(text)
    try:
        _Composer(loader, doc).run()
    except yaml.YAMLError as fast_error:
        raise YamlError(_syntax_problem(text, file, fast_error)) from None
    finally:
        loader.dispose()
    return doc


def load_file(path: Path, name: str | None = None) -> Document:
    """Parse the YAML file at ``path`` (shown as ``name`` in positions)."""
    return load_yaml(path.read_text(encoding="utf-8"), name or path.name)


MAX_FILE_BYTES = 1 << 20
"""Largest spec file read (1 MiB; the largest shipped file is about 10 KB)."""
MAX_DEPTH = 64
"""Deepest nesting of lists and mappings (the shipped specs reach 7)."""
MAX_VALUES = 200_000
"""Most values in one file after alias expansion (the shipped files hold under 2,000)."""
MAX_INT_BITS = 64

_YAML = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ = _YAML + "str", _YAML + "map", _YAML + "seq"
_BOOL, _NULL = _YAML + "bool", _YAML + "null"
_SCALAR_TAGS = frozenset(_YAML + t for t in ("str", "int", "float", "bool", "null"))
_MERGE = _YAML + "merge"
_DISCARD = object()


def _tag_text(tag: str) -> str:
    return "!!" + tag[len(_YAML) :] if tag.startswith(_YAML) else tag


@dataclass
class _Frame:
    data: dict[str, Any] | list[Any]
    path: Path_
    anchor: str | None
    pos: tuple[int, int]
    size: int = 1
    height: int = 1
    key: Any = None
    """In a mapping: the key whose value comes next (None: a key comes next; _DISCARD: drop the value)."""


@dataclass
class _Anchored:
    data: Any
    size: int
    height: int


class _Composer:
    """Builds the plain tree from the event stream, checking the limits as it goes."""

    def __init__(self, loader: Any, doc: Document) -> None:
        self.loader = loader
        self.doc = doc
        self.marks = doc.marks
        self.stack: list[_Frame] = []
        self.anchors: dict[str, _Anchored | None] = {}  # None: the anchored node is still open
        self.values = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def fail(self, pos: tuple[int, int], message: str) -> YamlError:
        return YamlError(Problem(self.marks.file, *pos, message))

    def problem(self, pos: tuple[int, int], path: Path_, message: str) -> None:
        """A problem that does not stop parsing, but leaves the tree incomplete."""
        self.doc.problems.append(Problem(self.marks.file, *pos, f"{fmt_path(path)}: {message}"))
        self.doc.complete = False

    def run(self) -> None:
        get, check = self.loader.get_event, self.loader.check_event
        get()  # StreamStart
        if check(yaml.StreamEndEvent):
            return
        get()  # DocumentStart
        while not check(yaml.DocumentEndEvent):
            self.event(get())
        get()
        if check(yaml.DocumentStartEvent):
            raise self.fail(_pos(get()), "the file holds more than one YAML document (a second '---')")

    def _next_path(self) -> tuple[Path_, bool]:
        """The path of the node that starts now, and whether it is a mapping key."""
        if not self.stack:
            return (), False
        top = self.stack[-1]
        if isinstance(top.data, list):
            return (*top.path, len(top.data)), False
        if top.key is None:
            return top.path, True
        return top.path if top.key is _DISCARD else (*top.path, top.key), False

    def _count(self, pos: tuple[int, int], size: int, height: int) -> None:
        self.values += size
        if self.values > MAX_VALUES:
            raise self.fail(pos, f"more than {MAX_VALUES:,} values (after expanding aliases); is this an alias bomb?")
        if len(self.stack) + height > MAX_DEPTH:
            raise self.fail(pos, f"nesting deeper than {MAX_DEPTH} levels")

    def event(self, ev: Any) -> None:
        pos = _pos(ev)
        path, is_key = self._next_path()
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if is_key:
                raise self.fail(pos, "a mapping key must be a plain value, not a list or mapping")
            mapping = isinstance(ev, yaml.MappingStartEvent)
            want = _MAP if mapping else _SEQ
            if ev.tag not in (None, "!", want):
                raise self.fail(pos, _tag_message(ev.tag))
            self._count(pos, 1, 1)
            if ev.anchor is not None:
                self.anchors[ev.anchor] = None
            self.stack.append(_Frame({} if mapping else [], path, ev.anchor, pos))
            return
        if isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = self.stack.pop()
            if frame.anchor is not None:
                self.anchors[frame.anchor] = _Anchored(frame.data, frame.size, frame.height)
            self._add(frame.data, frame.path, frame.pos, frame.size, frame.height)
            return
        if isinstance(ev, yaml.AliasEvent):
            if ev.anchor not in self.anchors:
                raise self.fail(pos, f"the alias *{ev.anchor} names no anchor before it")
            target = self.anchors[ev.anchor]
            if target is None:
                raise self.fail(pos, f"the alias *{ev.anchor} is inside its own anchor (a recursive alias)")
            self._count(pos, target.size, target.height)
            if is_key:
                self._key(target.data, pos, is_alias=True)
            else:
                self._add(target.data, path, pos, target.size, target.height)
            return
        if isinstance(ev, yaml.ScalarEvent):
            self._count(pos, 1, 0)
            value = self._scalar(ev, path, pos)
            if ev.anchor is not None:
                self.anchors[ev.anchor] = _Anchored(value, 1, 0)
            if is_key:
                self._key(value, pos, is_alias=False, merge=self._tag(ev) == _MERGE)
            else:
                self._add(value, path, pos, 1, 0)
                if isinstance(value, int) and not isinstance(value, bool):
                    self.marks.texts[path] = ev.value
            return
        raise self.fail(pos, f"unexpected YAML event {type(ev).__name__}")  # pragma: no cover - libyaml's grammar

    def _tag(self, ev: Any) -> str:
        if ev.tag is None:
            return str(self.loader.resolve(yaml.ScalarNode, ev.value, ev.implicit))
        return _STR if ev.tag == "!" else str(ev.tag)

    def _scalar(self, ev: Any, path: Path_, pos: tuple[int, int]) -> Any:
        tag = self._tag(ev)
        if tag == _MERGE:
            return "<<"
        if tag not in _SCALAR_TAGS:
            raise self.fail(pos, _tag_message(tag))
        if tag == _STR:
            return ev.value
        if tag == _BOOL and ev.value.lower() in yaml.constructor.SafeConstructor.bool_values:
            return yaml.constructor.SafeConstructor.bool_values[ev.value.lower()]
        if tag == _NULL:
            return None
        node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, style=ev.style)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except Exception:  # PyYAML's scalar constructors raise IndexError, KeyError, ValueError … on bad text
            if tag == _YAML + "int" and sum(c.isalnum() for c in ev.value) > 20:
                self.problem(pos, path, f"the integer {_short(ev.value)} has more than {MAX_INT_BITS} bits")
            else:
                self.problem(pos, path, f"cannot read {_short(ev.value)} as {_tag_text(tag)}")
            return ev.value
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >> MAX_INT_BITS:
            self.problem(pos, path, f"the integer {_short(ev.value)} has more than {MAX_INT_BITS} bits")
            return ev.value
        return value

    def _key(self, key: Any, pos: tuple[int, int], *, is_alias: bool, merge: bool = False) -> None:
        top = self.stack[-1]
        if merge:
            self.doc.problems.append(
                Problem(
                    self.marks.file,
                    *pos,
                    f"{fmt_path(top.path)}: YAML merge keys (<<) are not supported; "
                    "give the keys, or use an alias for the whole mapping",
                )
            )
            self.doc.complete = False
            top.key = _DISCARD
            return
        if isinstance(key, (dict, list)):
            raise self.fail(pos, "a mapping key must be a plain value, not a list or mapping")
        if not isinstance(key, str):
            key = str(key)
        assert isinstance(top.data, dict)
        if key in top.data:
            first, _ = self.marks.keys[(*top.path, key)]
            self.doc.problems.append(
                Problem(
                    self.marks.file,
                    *pos,
                    f"{fmt_path((*top.path, key))}: duplicate key {key!r} (first given on line {first})",
                )
            )
            top.key = _DISCARD
            return
        self.marks.keys[(*top.path, key)] = pos
        top.key = key

    def _add(self, value: Any, path: Path_, pos: tuple[int, int], size: int, height: int) -> None:
        if not self.stack:
            self.doc.data = value
            self.marks.values[()] = pos
            return
        top = self.stack[-1]
        top.size += size
        top.height = max(top.height, height + 1)
        if isinstance(top.data, list):
            top.data.append(value)
            self.marks.values[path] = pos
            return
        if top.key is not _DISCARD:
            top.data[top.key] = value
            self.marks.values[path] = pos
        top.key = None


def _tag_message(tag: str) -> str:
    return (
        f"the tag {_tag_text(tag)} is not allowed; irqforge reads plain YAML "
        "(strings, numbers, true/false, null, lists and mappings)"
    )


def _short(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[: limit - 4] + " ...")


def _syntax_problem(text: str, file: str, fast_error: yaml.YAMLError) -> Problem:
    """The problem of a text that does not parse, in the pure-Python parser's words."""
    error = fast_error
    if _COMPOSER is not _Loader:
        try:
            for _ in yaml.parse(text, Loader=_Loader):  # the event parser does not recurse
                pass
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


def _pos(node: Any) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1
