"""A user's exception as the user's own traceback, irqforge's frames folded.

When a firmware scenario raises, what its author needs is the path through
*their* code: the frames of irqforge (the kernel, the backend, the driver
loop), of the standard library and of installed packages are folded into
one line each run, so the traceback reads like the user's program.
"""

from __future__ import annotations

import sysconfig
import traceback
from pathlib import Path
from types import TracebackType

__all__ = ["format_user_exception", "is_user_frame"]

_LIBRARY_DIRS = tuple(
    str(Path(p).resolve()) for p in {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def is_user_frame(filename: str, module: str | None) -> bool:
    """A frame of the user's code: not irqforge, not the standard library, not an installed package."""
    if module is not None and (module == "irqforge" or module.startswith("irqforge.")):
        return False
    if filename.startswith("<"):  # <frozen …>, <string>
        return False
    resolved = str(Path(filename).resolve())
    return not resolved.startswith(_LIBRARY_DIRS)


def _frames(tb: TracebackType | None) -> list[tuple[traceback.FrameSummary, bool]]:
    out: list[tuple[traceback.FrameSummary, bool]] = []
    while tb is not None:
        frame = tb.tb_frame
        summary = traceback.FrameSummary(
            frame.f_code.co_filename, tb.tb_lineno, frame.f_code.co_name, lookup_line=True
        )
        out.append((summary, is_user_frame(frame.f_code.co_filename, frame.f_globals.get("__name__"))))
        tb = tb.tb_next
    return out


def format_user_exception(exc: BaseException) -> str | None:
    """``exc``'s traceback with only the user's frames spelled out, or ``None``
    when no frame of the innermost exception's traceback is the user's (then
    the failure is irqforge's own)."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append(e)
        e = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
    if not any(user for _s, user in _frames(chain[0].__traceback__)):
        return None
    parts: list[str] = []
    for i, err in enumerate(reversed(chain)):
        if i:
            parts.append("\nDuring handling of the above exception, another exception occurred:\n\n")
        parts.append("Traceback (most recent call last):\n")
        folded = 0
        for summary, user in _frames(err.__traceback__):
            if not user:
                folded += 1
                continue
            if folded:
                parts.append(f"  [{folded} frame{'s' if folded != 1 else ''} of irqforge and libraries]\n")
                folded = 0
            parts.extend(traceback.format_list([summary]))
        if folded:
            parts.append(f"  [{folded} frame{'s' if folded != 1 else ''} of irqforge and libraries]\n")
        parts.extend(traceback.format_exception_only(type(err), err))
    return "".join(parts)
