"""Workqueues (kernel/workqueue.c, include/linux/workqueue.h).

Per-CPU worker pools (normal and highpri) run work items in process context
on ``kworker/N:M[H]`` threads; one unbound pool serves ``WQ_UNBOUND`` queues.
Concurrency management: a pool wakes (or creates) another worker when its
running worker sleeps while work is pending. Semantics kept from Linux:

- ``queue_work*`` returns False while the item is PENDING; PENDING clears
  just before the function runs, so it may requeue itself;
- non-reentrancy: an item still running on another pool is queued there;
- ``max_active`` per pool-workqueue (default 256), extra items wait inactive;
  ordered queues run one item at a time in queueing order;
- ``flush_work`` (True if it waited), ``cancel_work_sync`` (True if it was
  pending; waits for a running instance, beats self-requeueing),
  ``flush_workqueue``, delayed work through the timer wheel.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .context import KernelConfig, KernelCore, call
from .sched import PRIO_KWORKER, PRIO_KWORKER_HI, TaskState, Thread, WaitQueue
from .smp import CallSingleData
from .softirq import HI_SOFTIRQ, TASKLET_SOFTIRQ
from .timer import TimerList

if TYPE_CHECKING:
    from .smp import Smp
    from .softirq import Softirqs
    from .timer import Timers

__all__ = [
    "WQ_BH",
    "WQ_HIGHPRI",
    "WQ_MEM_RECLAIM",
    "WQ_UNBOUND",
    "DelayedWork",
    "WorkStruct",
    "Workqueue",
    "Workqueues",
]

WQ_BH = 1 << 0
WQ_UNBOUND = 1 << 1
WQ_FREEZABLE = 1 << 2
WQ_MEM_RECLAIM = 1 << 3
WQ_HIGHPRI = 1 << 4
WQ_CPU_INTENSIVE = 1 << 5
WQ_SYSFS = 1 << 6
WQ_POWER_EFFICIENT = 1 << 7
WQ_ORDERED_INTERNAL = 1 << 17
"""Linux's ``__WQ_ORDERED`` (a double-underscore name would be mangled inside a class body)."""
__WQ_ORDERED = WQ_ORDERED_INTERNAL
WQ_BH_ALLOWS = WQ_BH | WQ_HIGHPRI
"""Linux's ``__WQ_BH_ALLOWS``: the only flags a BH workqueue may have."""
BH_WORKER_RESTARTS = 10
"""``bh_worker``: at most this many items per softirq run, then the softirq is raised again."""
WQ_MAX_ACTIVE = 512
WQ_DFL_ACTIVE = WQ_MAX_ACTIVE // 2

_seq = itertools.count(1)


class WorkStruct:
    """``struct work_struct``: ``func(work)`` plain or ``async def``."""

    def __init__(self, func: Callable[[WorkStruct], Any], name: str = "") -> None:
        self.func = func
        self.name = name or getattr(func, "__name__", "work")
        self.pending = False
        self.canceling = False
        self.pwq: _Pwq | None = None
        self.last_pool: _Pool | None = None
        self.seq = 0
        self.runs = 0
        self.ran_on: list[int] = []
        self.done = None
        self.wq_waiters: WaitQueue | None = None


class DelayedWork(WorkStruct):
    """``struct delayed_work``: a work item plus its timer."""

    def __init__(self, func: Callable[[WorkStruct], Any], name: str = "") -> None:
        super().__init__(func, name)
        self.timer = TimerList(self._timer_fn, f"delayed_work_timer_fn:{self.name}")
        self.wq: Workqueue | None = None
        self.cpu: int | None = None
        self.owner: Workqueues | None = None

    async def _timer_fn(self, _t: TimerList) -> None:
        assert self.owner is not None and self.wq is not None
        await self.owner._queue_work(self.cpu, self.wq, self)


class _Worker:
    def __init__(self, pool: _Pool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.thread: Thread | None = None
        self.current_work: WorkStruct | None = None
        self.current_pwq: _Pwq | None = None
        self.scheduled: deque[tuple[WorkStruct, _Pwq]] = deque()
        self.sleeping = False


class _Pool:
    def __init__(self, cpu: int | None, highpri: bool, bh: bool = False) -> None:
        self.cpu = cpu
        self.highpri = highpri
        self.bh = bh
        """A BH pool (``POOL_BH``): its items run in this CPU's softirq, no worker thread."""
        self.kick: CallSingleData | None = None
        """The cross-CPU kick of a BH pool (Linux: an irq_work queued on the pool's CPU)."""
        self.worklist: deque[tuple[WorkStruct, _Pwq]] = deque()
        self.workers: list[_Worker] = []
        self.idle: list[_Worker] = []
        self.nr_running = 0
        self.busy: dict[int, _Worker] = {}
        self.next_index = 0

    def name(self, idx: int, ncpus: int) -> str:
        if self.cpu is None:
            return f"kworker/u{2 * ncpus}:{idx}"
        return f"kworker/{self.cpu}:{idx}{'H' if self.highpri else ''}"


class _Pwq:
    def __init__(self, wq: Workqueue, pool: _Pool) -> None:
        self.wq = wq
        self.pool = pool
        self.nr_active = 0
        self.inactive: deque[WorkStruct] = deque()


class Workqueue:
    """``struct workqueue_struct``."""

    def __init__(self, name: str, flags: int, max_active: int) -> None:
        self.name = name
        self.flags = flags
        self.max_active = max_active
        self.pwqs: dict[int | None, _Pwq] = {}
        self.inflight: set[int] = set()
        self.flush_wq: WaitQueue | None = None

    @property
    def unbound(self) -> bool:
        return bool(self.flags & WQ_UNBOUND)


class WorkqueueHost(KernelCore, Protocol):
    """What the workqueues need: the kernel core, the CPUs online, cross-CPU kicks, softirqs and timers."""

    config: KernelConfig
    smp: Smp
    softirq: Softirqs
    timers: Timers

    def cpu_online(self, cpu: int) -> bool: ...

    def online_cpus(self) -> list[int]: ...


class Workqueues:
    """Worker pools, system workqueues and the workqueue API."""

    def __init__(self, kernel: WorkqueueHost) -> None:
        self.k = kernel
        self.pools: dict[tuple[int | None, bool], _Pool] = {}
        self.bh_pools: dict[tuple[int, bool], _Pool] = {}
        """Per CPU, normal and highpri: the pools of ``WQ_BH`` queues (``bh_worker_pools``)."""
        self.workqueues: list[Workqueue] = []
        self.done_wq = WaitQueue(kernel, "work_done")
        self.system_wq: Workqueue
        self.executed = 0

    # ------------------------------------------------------------------ setup

    def workqueue_init_early(self) -> None:
        for cpu in range(self.k.ncpus):
            self.pools[(cpu, False)] = _Pool(cpu, False)
            self.pools[(cpu, True)] = _Pool(cpu, True)
        self.pools[(None, False)] = _Pool(None, False)
        for cpu in range(self.k.ncpus):
            for hi in (False, True):
                pool = self.bh_pools[(cpu, hi)] = _Pool(cpu, hi, bh=True)
                pool.workers.append(_Worker(pool, 0))
        self.system_wq = self.alloc_workqueue("events", 0, 0)
        self.system_highpri_wq = self.alloc_workqueue("events_highpri", WQ_HIGHPRI, 0)
        self.system_long_wq = self.alloc_workqueue("events_long", 0, 0)
        self.system_unbound_wq = self.alloc_workqueue("events_unbound", WQ_UNBOUND, WQ_MAX_ACTIVE)

    def workqueue_init(self) -> None:
        """Create the first worker of every pool whose CPU is online."""
        for (cpu, _hi), pool in self.pools.items():
            if (cpu is None or self.k.cpu_online(cpu)) and not pool.workers:
                self._create_worker(pool)

    def workqueue_online_cpu(self, cpu: int) -> None:
        for hi in (False, True):
            pool = self.pools[(cpu, hi)]
            if not pool.workers:
                self._create_worker(pool)

    def alloc_workqueue(self, name: str, flags: int = 0, max_active: int = 0) -> Workqueue:
        """``alloc_workqueue(fmt, flags, max_active)``; 0 means the default (256).

        ``WQ_BH`` (Linux ≥ 6.9): the items run in softirq context on the CPU
        they were queued on, in queueing order (``WQ_HIGHPRI``: HI_SOFTIRQ, else
        TASKLET_SOFTIRQ). Like Linux, a BH queue allows no flag but
        ``WQ_HIGHPRI`` and no ``max_active`` (Linux WARNs and returns NULL;
        here it is a ValueError)."""
        if flags & WQ_BH:
            if flags & ~WQ_BH_ALLOWS or max_active:
                raise ValueError(
                    f"alloc_workqueue({name!r}): WQ_BH allows only WQ_HIGHPRI and max_active 0 "
                    f"(flags {flags:#x}, max_active {max_active})"
                )
            wq = Workqueue(name, flags, WQ_DFL_ACTIVE)
            for cpu in range(self.k.ncpus):
                wq.pwqs[cpu] = _Pwq(wq, self.bh_pools[(cpu, bool(flags & WQ_HIGHPRI))])
            self.workqueues.append(wq)
            return wq
        if max_active == 0:
            max_active = self.k.config.workqueue_max_active or WQ_DFL_ACTIVE
        max_active = max(1, min(max_active, WQ_MAX_ACTIVE))
        wq = Workqueue(name, flags, max_active)
        if wq.unbound:
            wq.pwqs[None] = _Pwq(wq, self.pools[(None, False)])
        else:
            for cpu in range(self.k.ncpus):
                wq.pwqs[cpu] = _Pwq(wq, self.pools[(cpu, bool(flags & WQ_HIGHPRI))])
        self.workqueues.append(wq)
        return wq

    def alloc_ordered_workqueue(self, name: str, flags: int = 0) -> Workqueue:
        """One item at a time in queueing order (``WQ_UNBOUND | __WQ_ORDERED``, max_active 1)."""
        return self.alloc_workqueue(name, flags | WQ_UNBOUND | WQ_ORDERED_INTERNAL, 1)

    def destroy_workqueue(self, wq: Workqueue) -> None:
        self.workqueues.remove(wq)

    def _create_worker(self, pool: _Pool) -> _Worker:
        k = self.k
        w = _Worker(pool, pool.next_index)
        pool.next_index += 1
        cpu = pool.cpu if pool.cpu is not None else (len(pool.workers) % max(1, len(k.online_cpus())))
        prio = PRIO_KWORKER_HI if pool.highpri else PRIO_KWORKER
        w.thread = k.kthread_create_on_cpu(self._worker_thread, w, cpu=cpu, name=pool.name(w.index, k.ncpus),
                                           prio=prio)

        def sleeping() -> None:
            if w.current_work is not None and not w.sleeping:
                w.sleeping = True
                pool.nr_running -= 1
                if pool.worklist and pool.nr_running == 0:
                    self._wake_worker(pool, create=True)

        def running() -> None:
            if w.sleeping:
                w.sleeping = False
                pool.nr_running += 1

        w.thread.sleep_hook = sleeping
        w.thread.wake_hook = running
        pool.workers.append(w)
        return w

    def _wake_worker(self, pool: _Pool, create: bool) -> None:
        if pool.idle:
            w = pool.idle.pop(0)
            assert w.thread is not None
            self.k.wake_up_process(w.thread)
        elif create:
            self._create_worker(pool)

    # ------------------------------------------------------------------ queueing

    def _local(self) -> int:
        return self.k.smp_processor_id()

    async def _queue_work(self, cpu: int | None, wq: Workqueue, work: WorkStruct) -> None:
        """``__queue_work`` (PENDING already set)."""
        if self.k.tracer is not None:
            self.k.tracer.event(self.k.smp_processor_id(), "workqueue:workqueue_queue_work", name=work.name,
                                workqueue=wq.name, req_cpu=cpu)
        if wq.unbound:
            pwq = wq.pwqs[None]
        else:
            pwq = wq.pwqs[self._local() if cpu is None else cpu]
        last = work.last_pool
        if last is not None and last is not pwq.pool:
            w = last.busy.get(id(work))
            if w is not None and w.current_pwq is not None and w.current_pwq.wq is wq:
                pwq = w.current_pwq
        work.pwq = pwq
        work.seq = next(_seq)
        wq.inflight.add(work.seq)
        if pwq.nr_active < wq.max_active:
            pwq.nr_active += 1
            self._insert(pwq, work)
        else:
            pwq.inactive.append(work)
        pool = pwq.pool
        if pool.bh and pool.cpu != self._local():
            await self._kick_bh_remote(pool)

    def _insert(self, pwq: _Pwq, work: WorkStruct) -> None:
        pool = pwq.pool
        pool.worklist.append((work, pwq))
        if pool.bh:
            if pool.cpu == self._local():
                self._kick_bh_local(pool)
        elif pool.nr_running == 0:
            self._wake_worker(pool, create=not pool.workers)

    def _kick_bh_local(self, pool: _Pool) -> None:
        """``kick_bh_pool`` on the pool's own CPU: raise the softirq that runs it."""
        self.k.softirq.raise_softirq_irqoff(HI_SOFTIRQ if pool.highpri else TASKLET_SOFTIRQ)

    async def _kick_bh_remote(self, pool: _Pool) -> None:
        """``kick_bh_pool`` for another CPU's pool: an IPI makes that CPU raise
        the softirq (Linux queues an irq_work there; -EBUSY: a kick is already
        on its way)."""
        if pool.kick is None:
            pool.kick = CallSingleData(func=lambda _info: self._kick_bh_local(pool))
        await self.k.smp.smp_call_function_single_async(pool.cpu or 0, pool.kick)

    async def workqueue_softirq_action(self, highpri: bool) -> None:
        """``workqueue_softirq_action`` → ``bh_worker``: run this CPU's BH pool
        from its tasklet softirq, at most :data:`BH_WORKER_RESTARTS` items or
        2 ms, then raise the softirq again for the rest."""
        k = self.k
        pool = self.bh_pools[(k._cur.id, highpri)]
        if not pool.worklist:
            return
        worker = pool.workers[0]
        timers = k.timers
        end = timers.jiffies + k.softirq.max_softirq_time
        restarts = BH_WORKER_RESTARTS
        while True:
            work, pwq = pool.worklist.popleft()
            await self._process_one_work(worker, work, pwq)
            restarts -= 1
            if not (pool.worklist and restarts and timers.time_before(timers.jiffies, end)):
                break
        if pool.worklist:
            self._kick_bh_local(pool)

    async def queue_work_on(self, cpu: int | None, wq: Workqueue, work: WorkStruct) -> bool:
        """Queue ``work`` on ``cpu`` (None: the local CPU); False if already pending."""
        if work.pending or work.canceling:
            return False
        work.pending = True
        await self._queue_work(cpu, wq, work)
        return True

    async def queue_work(self, wq: Workqueue, work: WorkStruct) -> bool:
        return await self.queue_work_on(None, wq, work)

    async def schedule_work(self, work: WorkStruct) -> bool:
        return await self.queue_work(self.system_wq, work)

    async def schedule_work_on(self, cpu: int, work: WorkStruct) -> bool:
        return await self.queue_work_on(cpu, self.system_wq, work)

    async def queue_delayed_work_on(self, cpu: int | None, wq: Workqueue, dwork: DelayedWork, delay: int) -> bool:
        """Queue after ``delay`` jiffies (0: at once); False if already pending."""
        if dwork.pending or dwork.canceling:
            return False
        dwork.pending = True
        await self._queue_delayed(cpu, wq, dwork, delay)
        return True

    async def _queue_delayed(self, cpu: int | None, wq: Workqueue, dwork: DelayedWork, delay: int) -> None:
        if delay == 0:
            await self._queue_work(cpu, wq, dwork)
            return
        t = self.k.timers
        dwork.wq, dwork.cpu, dwork.owner = wq, cpu, self
        dwork.timer.expires = t.jiffies + delay
        if cpu is not None:
            t.add_timer_on(dwork.timer, cpu)
        else:
            t.add_timer(dwork.timer)

    async def queue_delayed_work(self, wq: Workqueue, dwork: DelayedWork, delay: int) -> bool:
        return await self.queue_delayed_work_on(None, wq, dwork, delay)

    async def schedule_delayed_work(self, dwork: DelayedWork, delay: int) -> bool:
        return await self.queue_delayed_work(self.system_wq, dwork, delay)

    async def mod_delayed_work_on(self, cpu: int | None, wq: Workqueue, dwork: DelayedWork, delay: int) -> bool:
        """False if it was idle and got queued, True if it was pending and was modified."""
        was = self._try_to_grab_pending(dwork)
        dwork.pending = True
        await self._queue_delayed(cpu, wq, dwork, delay)
        return was

    def _try_to_grab_pending(self, work: WorkStruct) -> bool:
        """Take a pending item off its timer or queue; True if it was pending."""
        if not work.pending:
            return False
        if isinstance(work, DelayedWork) and self.k.timers.del_timer(work.timer):
            work.pending = False
            return True
        pwq = work.pwq
        if pwq is not None:
            pool = pwq.pool
            for i, (w, p) in enumerate(pool.worklist):
                if w is work:
                    del pool.worklist[i]
                    self._dec_active(p)
                    break
            else:
                if work in pwq.inactive:
                    pwq.inactive.remove(work)
            pwq.wq.inflight.discard(work.seq)
            self._wake_flushers(pwq.wq)
        work.pending = False
        return True

    # ------------------------------------------------------------------ flushing and cancelling

    def _running(self, work: WorkStruct) -> bool:
        key = id(work)
        return any(key in p.busy for p in self.pools.values()) or any(key in p.busy for p in self.bh_pools.values())

    async def flush_work(self, work: WorkStruct) -> bool:
        """Wait for the last queued instance; True if there was one to wait for."""
        running = self._running(work)
        if not work.pending and not running:
            return False
        target = work.runs + int(running) + int(work.pending)
        await self.done_wq.wait_event(
            lambda: work.runs >= target or (not work.pending and not self._running(work))
        )
        return True

    async def flush_delayed_work(self, dwork: DelayedWork) -> bool:
        if self.k.timers.del_timer(dwork.timer):
            assert dwork.wq is not None
            await self._queue_work(dwork.cpu, dwork.wq, dwork)
        return await self.flush_work(dwork)

    async def cancel_work_sync(self, work: WorkStruct) -> bool:
        """Cancel a pending instance and wait for a running one; True if it was pending."""
        work.canceling = True
        try:
            was = self._try_to_grab_pending(work)
            await self.done_wq.wait_event(lambda: not self._running(work))
            was = self._try_to_grab_pending(work) or was
        finally:
            work.canceling = False
        return was

    def cancel_work(self, work: WorkStruct) -> bool:
        return self._try_to_grab_pending(work)

    def cancel_delayed_work(self, dwork: DelayedWork) -> bool:
        return self._try_to_grab_pending(dwork)

    async def cancel_delayed_work_sync(self, dwork: DelayedWork) -> bool:
        return await self.cancel_work_sync(dwork)

    async def flush_workqueue(self, wq: Workqueue) -> None:
        """Wait for every item queued before the call."""
        upto = next(_seq)
        if wq.flush_wq is None:
            wq.flush_wq = WaitQueue(self.k, f"flush {wq.name}")
        await wq.flush_wq.wait_event(lambda: not any(s < upto for s in wq.inflight))

    def work_pending(self, work: WorkStruct) -> bool:
        return work.pending

    def work_busy(self, work: WorkStruct) -> bool:
        return work.pending or self._running(work)

    def _wake_flushers(self, wq: Workqueue) -> None:
        if wq.flush_wq is not None:
            wq.flush_wq.wake_up_all()

    def _dec_active(self, pwq: _Pwq) -> None:
        pwq.nr_active -= 1
        if pwq.inactive and pwq.nr_active < pwq.wq.max_active:
            work = pwq.inactive.popleft()
            pwq.nr_active += 1
            self._insert(pwq, work)

    # ------------------------------------------------------------------ workers

    async def _worker_thread(self, w: _Worker) -> None:
        k = self.k
        pool = w.pool
        while True:
            if not pool.worklist and not w.scheduled:
                t = k.current
                t.state = TaskState.BLOCKED
                pool.idle.append(w)
                await k.schedule()
                if w in pool.idle:
                    pool.idle.remove(w)
                continue
            pool.nr_running += 1
            try:
                while pool.worklist or w.scheduled:
                    if w.scheduled:
                        work, pwq = w.scheduled.popleft()
                    else:
                        work, pwq = pool.worklist.popleft()
                        other = pool.busy.get(id(work))
                        if other is not None and other is not w:
                            other.scheduled.append((work, pwq))  # never run an item twice at once
                            continue
                    await self._process_one_work(w, work, pwq)
                    await k.cond_resched()
            finally:
                pool.nr_running -= 1

    async def _process_one_work(self, w: _Worker, work: WorkStruct, pwq: _Pwq) -> None:
        k = self.k
        pool = w.pool
        pool.busy[id(work)] = w
        w.current_work = work
        w.current_pwq = pwq
        work.last_pool = pool
        work.pending = False
        seq = work.seq
        count = k.this_cpu.preempt_count  # 0 on a kworker, SOFTIRQ_OFFSET in a BH pool
        tracer = k.tracer
        if tracer is not None:
            tracer.event(k.smp_processor_id(), "workqueue:workqueue_execute_start", name=work.name, function=work.func)
        try:
            await call(work.func, work)
        finally:
            if tracer is not None:
                tracer.event(k.smp_processor_id(), "workqueue:workqueue_execute_end", name=work.name,
                             function=work.func)
            if k.this_cpu.preempt_count != count or not k.this_cpu.if_flag:
                k.printk(f"BUG: workqueue leaked lock or atomic: {k.current.comm} last function: {work.name}")
                k.this_cpu.preempt_count = count
                k.local_irq_enable()
            del pool.busy[id(work)]
            w.current_work = None
            w.current_pwq = None
            work.runs += 1
            work.ran_on.append(k.smp_processor_id())
            self.executed += 1
            self._dec_active(pwq)
            pwq.wq.inflight.discard(seq)
            self._wake_flushers(pwq.wq)
            self.done_wq.wake_up_all()
