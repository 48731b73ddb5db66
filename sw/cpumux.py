"""The CPU/thread multiplexer: simulated CPUs and their kernel threads on one backend coroutine.

A backend runs one coroutine, :meth:`irqforge.sw.Kernel.run`. Inside it the
*driver* (:meth:`CpuMux.drive`, a generator used as an awaitable) gives each
online CPU a turn: it runs that CPU's current kernel thread until the thread
gives the CPU up.

Every kernel thread runs on a stack of its own, a greenlet. A thread gives up
its turn with a plain call — :meth:`CpuMux.boundary` after a hardware access,
:meth:`CpuMux.schedule`, :meth:`CpuMux.halt` or :meth:`CpuMux.spin` — which
switches to the stack of the thread whose turn comes next (the one the
driver would run next; the driver's own stack only when the run stops, the
cycle budget is checked at the end of a pass or nothing can run); when the
turn comes back, the call returns. A switch costs the same whatever the depth of the thread's ``async``
call chain (a generator-based design suspends and resumes every coroutine
frame of it at each switch). So CPUs interleave at bus-access granularity,
every backend call runs alone, and the thread's ``async def`` code is awaited
as ever.

Hardware awaitables still work as awaitables: whatever a thread's coroutine
chain yields (a cocotb trigger, say) comes out at the bottom of its stack,
is handed to the driver and yielded by :meth:`irqforge.sw.Kernel.run` to the
backend untouched; the backend's answer goes back the same way. A backend
that never suspends (``Machine.synchronous``, see :mod:`irqforge.sw.machine`)
is called directly and nothing is forwarded. :meth:`CpuMux.await_` does the
same for any awaitable from plain code running on a thread's stack.

When every CPU is halted or parked the driver waits in
``machine.wait_any_interrupt(max_cycles=...)`` up to the nearest spin
deadline, so idle time costs nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Generator
from types import CoroutineType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from greenlet import GreenletExit, getcurrent, greenlet

from .context import CpuState, KernelTimeout, Park
from .sched import TaskState, Thread

if TYPE_CHECKING:
    from .context import PerCpu
    from .machine import Machine

__all__ = ["CpuMux", "MuxHost"]

# Enum members as module constants: ``CpuState.ONLINE`` is an attribute lookup
# on an Enum class at every use (the turn switch asks at every bus access).
_ONLINE = CpuState.ONLINE
_RUNNABLE = TaskState.RUNNABLE
_BLOCKED = TaskState.BLOCKED

T = TypeVar("T")


class MuxHost(Protocol):
    """What the multiplexer needs of the kernel: its CPUs, the machine, the run's state."""

    machine: Machine
    cpus: list[PerCpu]
    _cur: PerCpu
    """The CPU whose code runs now (set by the multiplexer)."""
    _stop: bool
    _deadline: int | None
    poll_quantum: int

    def thread_exited(self, cpu: PerCpu, t: Thread, result: Any, exc: BaseException | None) -> None:
        """A thread's coroutine ended with ``result`` or ``exc``."""
        ...

    def start_secondary_at(self, cpu: PerCpu, vector: int) -> None:
        """``cpu`` took a SIPI with ``vector``: it starts running there."""
        ...


class _TurnOver:
    """What a thread's stack hands the driver when the CPU's turn is over."""

    __slots__ = ()


_TURN_OVER = _TurnOver()


class _Exited:
    """What a thread's stack returns to the driver when its coroutine ended."""

    __slots__ = ("exc", "result")

    def __init__(self, result: Any, exc: BaseException | None) -> None:
        self.result, self.exc = result, exc


class CpuMux:
    """Runs the kernel threads of every simulated CPU (see the module docstring)."""

    def __init__(self, kernel: MuxHost) -> None:
        self.k = kernel
        self.machine = kernel.machine
        self._driver: greenlet | None = None
        self._turn: Thread
        """The thread of the turn running now (set by whoever switches to it); its CPU is
        ``cpus[t.cpu]`` (a thread never leaves its CPU), its stack ``t.glet``."""
        self._closing = False
        self._sync = bool(getattr(kernel.machine, "synchronous", False))
        self._succ: list[PerCpu | None] = [*kernel.cpus[1:], None]
        """The CPU after each one in a pass (``None`` after the last)."""

    # ------------------------------------------------------------------ called on a thread's stack

    def boundary(self) -> None:
        """End the CPU's turn (after a hardware access, a halt, a spin or a
        :meth:`schedule`): the other CPUs run, then this one again.

        The CPU whose turn comes next is chosen here exactly as the driver
        would choose it (:meth:`_next_cpu`) and its thread is switched to
        directly: one switch per turn instead of a round trip through the
        driver. If that thread is the caller (no other CPU could run), the
        call just returns. Only the driver can stop the run, check the cycle
        budget at the end of a pass or wait while nothing can run: then the
        turn goes back to it.
        """
        if self._closing:
            raise GreenletExit
        k = self.k
        # _next_cpu(k._cur), whose common case is this: the CPU after the
        # current one is online and not parked (and, at the end of a pass, the
        # cycle budget is not spent), so it runs without a side effect.
        cur = k._cur
        cpu = self._succ[cur.id]
        if cpu is None:  # the end of a pass
            d = k._deadline
            cpu = k.cpus[0] if d is None or self.machine.now() < d else None
        if k._stop or cpu is None or cpu.state is not _ONLINE or cpu.parked is not None:
            cpu = self._next_cpu(cur)
        if cpu is not None:
            # _turn_thread(cpu), whose common case is this (as in the driver)
            k._cur = cpu
            t = cpu.current
            if t is None or (t.state is not _RUNNABLE and t.state is not _BLOCKED):
                t = self._turn_thread(cpu)
            g = t.glet
            if g is None:
                g = t.glet = greenlet(self._thread_main, self._driver)
                self._turn = t
                g.switch(t)
            elif t is not self._turn:
                self._turn = t
                g.switch()
            return
        driver = self._driver
        assert driver is not None
        driver.switch(_TURN_OVER)

    def schedule(self) -> None:
        """Give the CPU to the best runnable thread (possibly the caller again)."""
        k = self.k
        cpu = k._cur
        t = cpu.current
        if t is not None:
            self.switch_thread(cpu, t)
        self.boundary()

    def halt(self) -> None:
        """``hlt``: the CPU parks until an interrupt or something to run."""
        self.k._cur.parked = Park.HALT
        self.boundary()

    def spin(self) -> None:
        """Park the CPU in a spin loop (see :meth:`irqforge.sw.Kernel.spin_until`)."""
        self.k._cur.parked = Park.SPIN
        self.boundary()

    def await_(self, aw: Awaitable[T]) -> T:
        """Await ``aw`` from plain code on a thread's stack: what it yields goes to the backend."""
        # a coroutine is driven directly (its __await__() would wrap it in one more object)
        it: Any = aw if aw.__class__ is CoroutineType else aw.__await__()
        try:
            item = it.send(None)
        except StopIteration as done:
            return done.value
        return self.await_rest(it, item)

    def await_rest(self, it: Any, item: Any) -> Any:
        """Go on with :meth:`await_` of the iterator (or coroutine) ``it`` after it yielded ``item``.

        (A caller that sent the first ``None`` itself, inline, goes on here.)"""
        while True:
            send, exc = self._forward(item)
            try:
                item = it.send(send) if exc is None else it.throw(exc)
            except StopIteration as done:
                return done.value

    def _forward(self, item: Any) -> tuple[Any, BaseException | None]:
        """Hand a hardware awaitable's item to the driver; (answer, None) or (None, exception)."""
        if self._closing:
            raise GreenletExit
        driver = self._driver
        assert driver is not None
        try:
            return driver.switch(item), None
        except GreenletExit:
            raise
        except BaseException as e:  # thrown in by the backend: hand it to the awaitable
            return None, e

    def _thread_main(self, t: Thread) -> _Exited:
        """The bottom of a thread's stack: run its coroutine to the end."""
        coro = t.coro
        send: Any = None
        exc: BaseException | None = None
        while True:
            try:
                item = coro.send(send) if exc is None else coro.throw(exc)
            except StopIteration as done:
                return _Exited(done.value, None)
            except GreenletExit:
                raise
            except Exception as e:  # KernelOops, KernelBug, KernelPanic, PlatformReset, a Python error
                return _Exited(None, e)
            try:
                send, exc = self._forward(item)
            except GreenletExit:
                coro.close()
                raise

    # ------------------------------------------------------------------ the driver

    def drive(self) -> Generator[Any, Any, None]:
        """The driver loop; yields the backend's awaitables' items."""
        k = self.k
        m = self.machine
        cpus = k.cpus
        me = self._driver = getcurrent()
        turn_over = _TURN_OVER
        while not k._stop:
            ran = False
            i = 0
            while i < len(cpus):
                cpu = cpus[i]
                i += 1
                if cpu.state is not _ONLINE:
                    self._check_startup(cpu)
                    if cpu.state is not _ONLINE:
                        continue
                if cpu.parked is not None:
                    if not self.wakeable(cpu):
                        continue
                    cpu.parked = None
                ran = True
                # _turn_thread(cpu), whose common case is this
                k._cur = cpu
                t = cpu.current
                if t is None or (t.state is not _RUNNABLE and t.state is not _BLOCKED):
                    t = self._turn_thread(cpu)
                g = t.glet
                if g is None:
                    g = t.glet = greenlet(self._thread_main, me)
                    self._turn = t
                    item = g.switch(t)
                else:
                    self._turn = t
                    item = g.switch()
                while True:
                    # The threads pass turns to each other (boundary()): what comes
                    # back is from the thread of the latest turn.
                    t = self._turn
                    cpu, g = cpus[t.cpu], t.glet
                    if item is turn_over:
                        break
                    if item.__class__ is _Exited:
                        self._thread_exit(cpu, t, item.result, item.exc)
                        break
                    # a hardware awaitable of the thread: the backend answers it
                    try:
                        send = yield item
                    except GeneratorExit:
                        raise
                    except BaseException as e:
                        item = g.throw(e)
                    else:
                        item = g.switch(send)
                if k._stop:
                    return
                i = cpu.id + 1  # the pass goes on after the CPU whose turn ended
            d = k._deadline
            if d is not None and m.now() >= d:
                raise KernelTimeout(f"the kernel did not finish within its cycle budget (cycle {m.now()})")
            if not ran:
                yield from self._idle_wait()

    def wakeable(self, cpu: PerCpu) -> bool:
        """A parked CPU has a reason to run again."""
        m = self.machine
        if not cpu.in_nmi and m.nmi_pending(cpu.id):
            return True
        if cpu.parked is Park.HALT:
            return cpu.need_resched or m.intr_pending(cpu.id)
        # spinning
        if cpu.spin_woken:
            return True
        if cpu.spin_deadline is not None and m.now() >= cpu.spin_deadline:
            return True
        return cpu.if_flag and m.intr_pending(cpu.id)

    def _next_cpu(self, cur: PerCpu) -> PerCpu | None:
        """The CPU the driver would give the next turn to after ``cur``'s (``cur``
        itself if no other CPU can run), with the driver's side effects on the
        way (INIT/SIPI taken, a parked CPU woken); ``None`` where only the
        driver can go on: the run stops, the cycle budget is spent at the end
        of a pass, or nothing can run (its idle wait)."""
        k = self.k
        if k._stop:
            return None
        cpus = k.cpus
        n = len(cpus)
        first = cur.id + 1
        for j in range(first, first + n):  # the rest of this pass, then the next one up to ``cur``
            if j >= n:
                if j == n:  # the end of the pass
                    d = k._deadline
                    if d is not None and self.machine.now() >= d:
                        return None
                j -= n
            cpu = cpus[j]
            if cpu.state is not _ONLINE:
                self._check_startup(cpu)
                if cpu.state is not _ONLINE:
                    continue
            if cpu.parked is not None:
                if not self.wakeable(cpu):
                    continue
                cpu.parked = None
            return cpu
        return None

    def _idle_wait(self) -> Generator[Any, Any, None]:
        k = self.k
        m = self.machine
        now = m.now()
        limit: int | None = None
        blocked = False
        for cpu in k.cpus:
            if cpu.state is not _ONLINE:
                if cpu.state is CpuState.WAIT_FOR_SIPI or cpu.sipi_vector is not None:
                    blocked = True
                continue
            if cpu.parked is Park.SPIN and cpu.spin_deadline is not None:
                d = max(1, cpu.spin_deadline - now)
                limit = d if limit is None else min(limit, d)
            if m.intr_pending(cpu.id) and not (cpu.parked is Park.HALT or cpu.if_flag):
                blocked = True
        if k._deadline is not None:
            d = max(1, k._deadline - now)
            limit = d if limit is None else min(limit, d)
        if blocked:
            n = k.poll_quantum if limit is None else min(limit, k.poll_quantum)
            yield from m.wait_cycles(n).__await__()
        else:
            yield from m.wait_any_interrupt(limit).__await__()

    def _check_startup(self, cpu: PerCpu) -> None:
        for kind, vector in self.machine.take_startup(cpu.id):
            if kind == "INIT":
                if cpu.state is CpuState.OFFLINE:
                    cpu.state = CpuState.WAIT_FOR_SIPI
            elif kind == "SIPI" and cpu.state is CpuState.WAIT_FOR_SIPI:
                cpu.sipi_vector = vector
                self.k.start_secondary_at(cpu, vector)

    def _turn_thread(self, cpu: PerCpu) -> Thread:
        """Make ``cpu`` the current CPU; the thread that runs its turn."""
        self.k._cur = cpu
        t = cpu.current
        if t is None or (t.state is not _RUNNABLE and t.state is not _BLOCKED):
            self.switch_thread(cpu, None)
            t = cpu.current
            assert t is not None
        return t

    @staticmethod
    def pick_next(cpu: PerCpu) -> Thread:
        best: Thread | None = None
        for t in cpu.threads:
            if t.state is _RUNNABLE and (best is None or (t.prio, t.seq) < (best.prio, best.seq)):
                best = t
        assert best is not None, "the idle thread is always runnable"
        return best

    def switch_thread(self, cpu: PerCpu, prev: Thread | None) -> None:
        """``__schedule``: the best runnable thread becomes ``cpu``'s current one."""
        if prev is not None:
            prev.saved_if = cpu.if_flag
        cpu.need_resched = False
        nxt = self.pick_next(cpu)
        if nxt is not prev:
            cpu.nr_switches += 1
            cpu.current = nxt
            cpu.if_flag = nxt.saved_if

    def _thread_exit(self, cpu: PerCpu, t: Thread, result: Any, exc: BaseException | None) -> None:
        self.k.thread_exited(cpu, t, result, exc)
        if self.k._stop:
            return  # panic, reset or a Python error: the driver stops; nothing to switch to
        self.switch_thread(cpu, None)

    def close(self) -> None:
        """End the threads still alive (the run is over): their ``finally`` blocks run."""
        self._closing = True
        try:
            for cpu in self.k.cpus:
                self.k._cur = cpu  # the thread's ``finally`` blocks run on its CPU
                for t in list(cpu.threads):
                    g = t.glet
                    if g is None:
                        with contextlib.suppress(RuntimeError):
                            t.coro.close()
                    elif not g.dead:
                        with contextlib.suppress(BaseException):
                            g.throw(GreenletExit)
        finally:
            self._closing = False
