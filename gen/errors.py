"""The one exception the emitters raise."""

from __future__ import annotations

__all__ = ["GenError"]


class GenError(Exception):
    """The model cannot be emitted as asked (a name collision in a header, a
    gate layout with no C struct, an output path outside the output folder).

    Spec problems are found earlier by the loader; this is about the emitters'
    own limits, so the message names the output and the construct.
    """
