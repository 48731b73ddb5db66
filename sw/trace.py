"""Tracepoints of the software stack, written as a Chrome/Perfetto trace.

Linux names its tracepoints ``subsystem:event`` (``irq:irq_handler_entry``,
``irq:softirq_entry``, ``workqueue:workqueue_execute_start`` …); the stack
emits the same events, with the same arguments, at the same places. A
:class:`Tracer` collects them in simulated time and writes the Trace Event
Format (the JSON that ``chrome://tracing`` and https://ui.perfetto.dev open):
one process for the platform, one track (thread) per CPU, each
``*_entry``/``*_exit`` (``*_start``/``*_end``) pair as a slice, everything
else as an instant event.

``irqforge sim --trace run.json`` records a run: it opens a :func:`session`,
every :class:`~irqforge.sw.Kernel` created meanwhile records into a
:class:`Tracer` and writes the file when its ``run`` ends. The request also
travels to a simulator process in the environment (``IRQFORGE_TRACE``), so
the cocotb backends trace too.

The format is written here rather than with a library: the Trace Event
Format is a list of small JSON objects, the Python ``perfetto`` package
writes protobuf traces through a trace processor binary it downloads, and
nothing else on PyPI is maintained for it.

Disabled tracing costs one attribute test per tracepoint: call sites do
``if k.tracer is not None: k.tracer.event(...)``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["ENV_TRACE", "SLICE_PAIRS", "TRACEPOINTS", "Tracer", "requested_path", "session"]

#: the environment variable that asks every kernel of a process to trace into this file
ENV_TRACE = "IRQFORGE_TRACE"


def requested_path() -> str | None:
    """Where the kernels created now should write their trace, or ``None`` (not tracing)."""
    return os.environ.get(ENV_TRACE) or None


@contextlib.contextmanager
def session(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Trace every kernel run inside the ``with`` block (and in simulator processes it starts) into ``path``."""
    target = Path(path).resolve()
    old = os.environ.get(ENV_TRACE)
    os.environ[ENV_TRACE] = str(target)
    try:
        yield target
    finally:
        if old is None:
            os.environ.pop(ENV_TRACE, None)
        else:
            os.environ[ENV_TRACE] = old

#: the tracepoints the stack emits, as Linux names them (include/trace/events/*.h)
TRACEPOINTS: tuple[str, ...] = (
    "irq:irq_handler_entry",
    "irq:irq_handler_exit",
    "irq:softirq_raise",
    "irq:softirq_entry",
    "irq:softirq_exit",
    "irq:tasklet_entry",
    "irq:tasklet_exit",
    "irq_vectors:local_timer_entry",
    "irq_vectors:local_timer_exit",
    "irq_vectors:call_function_entry",
    "irq_vectors:call_function_exit",
    "irq_vectors:call_function_single_entry",
    "irq_vectors:call_function_single_exit",
    "irq_vectors:reschedule_entry",
    "irq_vectors:reschedule_exit",
    "irq_vectors:spurious_apic_entry",
    "irq_vectors:spurious_apic_exit",
    "irq_vectors:error_apic_entry",
    "irq_vectors:error_apic_exit",
    "workqueue:workqueue_queue_work",
    "workqueue:workqueue_execute_start",
    "workqueue:workqueue_execute_end",
    "timer:timer_expire_entry",
    "timer:timer_expire_exit",
    "timer:hrtimer_expire_entry",
    "timer:hrtimer_expire_exit",
    "ipi:ipi_send_cpu",
    "ipi:ipi_send_cpumask",
)

#: begin event → end event of a slice
SLICE_PAIRS: dict[str, str] = {
    "irq:irq_handler_entry": "irq:irq_handler_exit",
    "irq:softirq_entry": "irq:softirq_exit",
    "irq:tasklet_entry": "irq:tasklet_exit",
    "workqueue:workqueue_execute_start": "workqueue:workqueue_execute_end",
    "timer:timer_expire_entry": "timer:timer_expire_exit",
    "timer:hrtimer_expire_entry": "timer:hrtimer_expire_exit",
    **{
        f"irq_vectors:{v}_entry": f"irq_vectors:{v}_exit"
        for v in ("local_timer", "call_function", "call_function_single", "reschedule", "spurious_apic", "error_apic")
    },
}
_ENDS = {end: begin for begin, end in SLICE_PAIRS.items()}
_KNOWN = frozenset(TRACEPOINTS)


class Tracer:
    """Collects tracepoint events; :meth:`write` saves them as a Trace Event Format file.

    ``now`` gives the simulated time in cycles, ``clock_hz`` converts it to
    microseconds (the format's unit).
    """

    def __init__(
        self, now: Callable[[], int], clock_hz: int, ncpus: int, path: str | None = None, name: str = "irqforge"
    ) -> None:
        self.path = path
        self._now = now
        self._us_per_cycle = 1e6 / clock_hz
        self.ncpus = ncpus
        self.name = name
        self.events: list[dict[str, Any]] = []

    def event(self, cpu: int, tracepoint: str, /, **args: Any) -> None:
        """Record ``tracepoint`` on ``cpu`` now, with Linux's argument names (``irq``, ``name``, ``vec`` …)."""
        if tracepoint not in _KNOWN:
            raise ValueError(f"unknown tracepoint {tracepoint!r}")
        if tracepoint in SLICE_PAIRS:
            ph, label = "B", self._label(tracepoint, args)
        elif tracepoint in _ENDS:
            ph, label = "E", ""
        else:
            ph, label = "i", self._label(tracepoint, args)
        ev: dict[str, Any] = {
            "name": label,
            "cat": tracepoint,
            "ph": ph,
            "ts": round(self._now() * self._us_per_cycle, 3),
            "pid": 0,
            "tid": cpu,
            "args": {k: _jsonable(v) for k, v in args.items()},
        }
        if ph == "i":
            ev["s"] = "t"  # an instant on this CPU's track
        self.events.append(ev)

    @staticmethod
    def _label(tracepoint: str, args: dict[str, Any]) -> str:
        event = tracepoint.split(":", 1)[1]
        for key in ("name", "function", "vec_name", "irq"):
            if key in args:
                return f"{event} {args[key]}"
        return event

    def trace(self) -> dict[str, Any]:
        """The whole trace as the Trace Event Format's JSON object."""
        meta: list[dict[str, Any]] = [
            {"name": "process_name", "ph": "M", "pid": 0, "tid": 0, "args": {"name": self.name}},
        ]
        meta += [
            {"name": "thread_name", "ph": "M", "pid": 0, "tid": c, "args": {"name": f"CPU {c}"}}
            for c in range(self.ncpus)
        ]
        meta += [
            {"name": "thread_sort_index", "ph": "M", "pid": 0, "tid": c, "args": {"sort_index": c}}
            for c in range(self.ncpus)
        ]
        return {"traceEvents": meta + self.events, "displayTimeUnit": "ns", "otherData": {"clock": "simulated"}}

    def write(self, path: str | Path | None = None) -> None:
        """Write the trace to ``path`` (default: the path it was made for) in one piece."""
        target = Path(path or self.path or "trace.json")
        tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(self.trace(), separators=(",", ":")) + "\n", encoding="utf-8")
        tmp.replace(target)


def _jsonable(v: Any) -> Any:
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_jsonable(x) for x in sorted(v) if x is not None] if isinstance(v, (set, frozenset)) else [
            _jsonable(x) for x in v
        ]
    return getattr(v, "__qualname__", None) or getattr(v, "name", None) or repr(v)
