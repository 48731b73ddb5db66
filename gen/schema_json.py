"""``schema/irqforge-spec.schema.json``: the spec's JSON Schema for editors.

The same :data:`irqforge.spec.SCHEMA` the loader validates with, pretty
printed with sorted keys (stable diffs) and the banner as a top-level
``$comment`` (JSON has no comments; ``$comment`` is the 2020-12 keyword
for notes that validators ignore).
"""

from __future__ import annotations

import json

from irqforge.spec import SCHEMA, Spec

from .render import banner

__all__ = ["emit"]


def emit(spec: Spec) -> dict[str, str]:
    """The schema file, by output path."""
    doc = {"$comment": banner(spec), **SCHEMA}
    text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return {"schema/irqforge-spec.schema.json": text}
