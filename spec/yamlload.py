"""YAML loading that keeps the line and column of every value.

The tree comes back as plain dicts, lists and scalars (what jsonschema and the
model builder want) together with a :class:`Marks` table from document path to
source position. PyYAML's YAML 1.1 sexagesimal integers are switched off, so
``bits: 31:24`` is the string ``"31:24"`` and not 1884.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem

Path_ = tuple[str | int, ...]


class _Loader(yaml.SafeLoader):
    """SafeLoader without sexagesimal integers and floats."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?)$"),
    list("-+0123456789."),
)


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


class YamlError(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def load_yaml(text: str, file: str) -> tuple[Any, Marks]:
    """Parse ``text``; ``file`` is the name used in positions."""
    marks = Marks(file)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        m = e.problem_mark
        line, col = (m.line + 1, m.column + 1) if m is not None else (1, 1)
        raise YamlError(Problem(file, line, col, f"YAML syntax: {e.problem}")) from None
    if node is None:
        return None, marks
    constructor = _Loader(text)
    try:
        return _convert(node, (), marks, constructor), marks
    finally:
        constructor.dispose()


def load_file(path: Path, name: str | None = None) -> tuple[Any, Marks]:
    return load_yaml(path.read_text(encoding="utf-8"), name or path.name)


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _convert(node: yaml.Node, path: Path_, marks: Marks, c: yaml.SafeLoader) -> Any:
    marks.values[path] = _pos(node)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            if knode.tag == "tag:yaml.org,2002:merge":
                raise YamlError(Problem(marks.file, *_pos(knode), "YAML merge keys (<<) are not supported"))
            key = c.construct_object(knode, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                raise YamlError(Problem(marks.file, *_pos(knode), f"duplicate key {key!r}"))
            marks.keys[(*path, key)] = _pos(knode)
            out[key] = _convert(vnode, (*path, key), marks, c)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(n, (*path, i), marks, c) for i, n in enumerate(node.value)]
    return c.construct_object(node, deep=True)
