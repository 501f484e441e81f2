"""The clients of one plan spread over worker processes (``--workers N``).

One asyncio loop runs every client on one core; the GIL keeps a process from going
further. Each worker is a process of its own running :class:`Traffic` for its share of
the plan's clients, recording them into a part file of the run directory with the
run's clock (``CLOCK_MONOTONIC`` is one clock for every process of the machine). When
the traffic ends, the parts are merged into the one history in the order their calls
completed, with operation ids from the run's own counter, so the plan, the history and
the checks stay one; a part stays on disk until it is merged.

The parent keeps what faults and the progress bar touch: one stop flag, one gate (a
fault that wants a quiet cluster holds every worker's clients and waits for all their
requests in flight), and the counters of every worker.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import signal
import threading
import time
from collections import Counter as Tally
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from harness import tls
from harness.client.recorder import Clock, Counter
from harness.history.jsonl import HistoryWriter, iter_records
from harness.traffic.plan import Plan
from harness.traffic.workload import Gate, Traffic, TrafficStats
from models.history import Header, OpRecord

#: Slots per worker in the shared counters: requests in flight, ops, acknowledged writes.
_IN_FLIGHT, _OPS, _WRITES = range(3)
_SLOTS = 3
#: The flags come after every worker's slots.
_STOP, _OPEN = 0, 1


def _slot(worker: int, field: int) -> int:
    return worker * _SLOTS + field


#: How long after its duration a worker may take to stop (requests time out in 2 s).
_GRACE_S = 30.0


def split(plan: Plan, workers: int) -> list[Plan]:
    """Client ``i`` goes to worker ``i mod N``: every worker gets clients of every
    program shape the plan drew, and the split depends on nothing but N."""
    return [
        msgspec.structs.replace(plan, clients=plan.clients[k::workers])
        for k in range(workers)
        if plan.clients[k::workers]
    ]


@dataclass(frozen=True)
class Job:
    """What a worker needs, picklable: the spawned process shares no memory with us."""

    index: int
    plan: bytes
    endpoints: list[str]
    part: str
    t0: int
    qps: float | None
    #: When the traffic ends (``time.monotonic()``: one clock for every process here), so
    #: that a worker's start-up does not move its traffic against the fault schedule.
    deadline: float
    credentials: dict[str, tls.Credentials]


class Flag:
    """``threading.Event``'s is_set/set/clear on one slot of shared memory, without a
    lock: a worker that exits while a thread of it waits on a ``multiprocessing.Event``
    can leave that event's lock held, and the parent's next ``set`` waits forever."""

    def __init__(self, counters: Any, slot: int):
        self._counters = counters
        self._slot = slot

    def is_set(self) -> bool:
        return bool(self._counters[self._slot])

    def set(self) -> None:
        self._counters[self._slot] = 1

    def clear(self) -> None:
        self._counters[self._slot] = 0


class SharedGate(Gate):
    """A worker's side of the gate: the parent opens and closes it, and the worker
    counts its requests in flight where the parent sees them."""

    def __init__(self, opened: Any, counters: Any, index: int):
        super().__init__(opened)
        self._counters = counters
        self._slot = _slot(index, _IN_FLIGHT)

    def sent(self, delta: int) -> None:
        self._counters[self._slot] += delta


class WorkerGate(Gate):
    """The parent's side: ``hold`` waits for the requests in flight of every worker."""

    def __init__(self, opened: Any, counters: Any, workers: int):
        super().__init__(opened)
        self._counters = counters
        self._workers = workers

    def pending(self) -> int:
        return sum(self._counters[_slot(k, _IN_FLIGHT)] for k in range(self._workers))


def work(job: Job, stop: Flag, opened: Flag, counters: Any, results: Any) -> None:
    """A worker process: its share of the clients until the duration is over or
    ``stop`` is set, then its tallies and error (if any) on ``results``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us through ``stop``
    for endpoint, creds in job.credentials.items():
        tls.trust([endpoint], creds)
    plan = Plan.from_json(job.plan)
    writer = HistoryWriter(job.part, Header(scenario=plan.scenario, model="etcd"))
    traffic = Traffic(
        plan, job.endpoints, writer, Clock(job.t0), Counter(), qps=job.qps,
        duration=max(0.0, job.deadline - time.monotonic()),
    )  # fmt: skip
    traffic.gate = SharedGate(opened, counters, job.index)
    done = threading.Event()
    threading.Thread(target=_watch_stop, args=(stop, traffic, done), daemon=True).start()
    threading.Thread(target=_publish, args=(traffic.stats, counters, job.index, done), daemon=True).start()
    try:
        traffic.run()
    finally:
        done.set()
        writer.close()
        snap = traffic.stats.snapshot()
        results.put((job.index, snap, traffic.error, writer.error_message() if writer.error else None))


def _watch_stop(stop: Flag, traffic: Traffic, done: threading.Event) -> None:
    while not done.wait(0.05):
        if stop.is_set():
            traffic.stop.set()
            return


def _publish(stats: TrafficStats, counters: Any, index: int, done: threading.Event) -> None:
    while not done.wait(0.25):
        with stats.lock:
            counters[_slot(index, _OPS)] = stats.ops
            counters[_slot(index, _WRITES)] = stats.writes_ok


class Workers:
    """The traffic of a plan on ``workers`` processes, with :class:`Traffic`'s face for
    the runner: ``run`` (blocks), ``stop``, ``gate``, ``stats``, ``error``, ``ran_for``.
    ``merge`` must follow ``run``, once nothing else records operations."""

    def __init__(
        self,
        plan: Plan,
        endpoints: list[str],
        writer: HistoryWriter,
        clock: Clock,
        ids: Counter,
        *,
        qps: float | None,
        duration: float,
        workers: int,
    ):
        self.parts = split(plan, workers)
        self.plan = plan
        self.endpoints = endpoints
        self.writer = writer
        self.clock = clock
        self.ids = ids
        self.qps = qps
        self.duration = duration
        self._ctx = mp.get_context("spawn")
        flags = _SLOTS * len(self.parts)
        self._counters = self._ctx.Array("q", flags + 2, lock=False)
        self._opened = Flag(self._counters, flags + _OPEN)
        self._stop = Flag(self._counters, flags + _STOP)
        self._opened.set()
        self.gate = WorkerGate(self._opened, self._counters, len(self.parts))
        self.stop = threading.Event()
        self.stats = _Stats(self._counters, len(self.parts))
        self.error: str | None = None
        self.ran_for = 0.0
        self.deadline = 0.0
        #: Every worker joined or killed: only then are the parts whole.
        self.finished = False
        self.part_paths = [str(writer.path.with_suffix(f".worker{k}.jsonl")) for k in range(len(self.parts))]

    def _job(self, k: int) -> Job:
        share = len(self.parts[k].clients) / max(1, len(self.plan.clients))
        creds = {ep: c for ep in self.endpoints if (c := tls.registered(ep)) is not None}
        return Job(
            index=k, plan=self.parts[k].to_json(), endpoints=self.endpoints, part=self.part_paths[k],
            t0=self.clock.t0, qps=self.qps * share if self.qps else self.qps, deadline=self.deadline,
            credentials=creds,
        )  # fmt: skip

    def run(self) -> None:
        """Blocks until every worker is done (bounded); never raises, like Traffic.run."""
        started = time.monotonic()
        self.deadline = started + self.duration
        stop, results = self._stop, self._ctx.Queue()
        procs = [
            self._ctx.Process(
                target=work,
                args=(self._job(k), stop, self._opened, self._counters, results),
                name=f"traffic-worker-{k}",
                daemon=True,
            )  # fmt: skip
            for k in range(len(self.parts))
        ]
        try:
            for proc in procs:
                proc.start()
            self._collect(procs, stop, results, started + self.duration + _GRACE_S)
        except BaseException as exc:  # noqa: BLE001 - reported through ``error``, as Traffic does
            self.error = self.error or f"{type(exc).__name__}: {exc}"
        finally:
            stop.set()
            for proc in procs:
                proc.join(5)
                if proc.is_alive():
                    proc.kill()
                    proc.join(5)
            self.ran_for = time.monotonic() - started
            self.finished = True

    def _collect(self, procs: list[Any], stop: Flag, results: Any, deadline: float) -> None:
        pending = set(range(len(procs)))
        while pending and time.monotonic() < deadline:
            if self.stop.is_set():
                stop.set()
            try:
                k, snap, error, disk = results.get(timeout=0.2)
            except queue.Empty:
                for k in list(pending):
                    if not procs[k].is_alive():
                        pending.discard(k)
                        self.error = self.error or f"worker {k} died (exit code {procs[k].exitcode})"
                continue
            pending.discard(k)
            self.stats.final[k] = snap
            if error or disk:
                self.error = self.error or f"worker {k}: {error or disk}"
        if pending:
            self.error = self.error or f"workers {sorted(pending)} did not stop in time"

    def merge(self) -> int:
        """Append every part's operations to the history in the order they completed,
        with ids from the run's counter; returns how many. Parts are removed once merged;
        one that cannot be read stays where it is and is named in ``error``, and so does
        every part while a worker may still write to it."""
        if not self.finished:
            self.error = self.error or "workers still running at the end of traffic: parts kept, not merged"
            return 0
        ops: list[OpRecord] = []
        for path in self.part_paths:
            try:
                with open(path, "rb") as f:
                    ops.extend(rec for _, rec, _ in iter_records(path, f) if isinstance(rec, OpRecord))
            except OSError as exc:
                self.error = self.error or f"cannot read {path}: {exc.strerror or exc}"
                return 0
        # Unknown outcomes have no return: they go last, in call order.
        ops.sort(key=lambda r: (r.ret is None, r.ret if r.ret is not None else r.call))
        for rec in ops:
            self.writer.write(msgspec.structs.replace(rec, id=self.ids.next()))
        if self.writer.error is None:
            for path in self.part_paths:
                Path(path).unlink(missing_ok=True)
        return len(ops)


class _Stats:
    """:class:`TrafficStats`'s ``snapshot`` over the workers: live counts from shared
    memory, and each worker's own tallies once it has reported them."""

    def __init__(self, counters: Any, workers: int):
        self._counters = counters
        self._workers = workers
        self.final: dict[int, dict[str, Any]] = {}

    def snapshot(self) -> dict[str, object]:
        ops = writes = 0
        status: Tally[str] = Tally()
        errors: Tally[str] = Tally()
        for k in range(self._workers):
            snap = self.final.get(k)
            if snap is None:
                ops += self._counters[_slot(k, _OPS)]
                writes += self._counters[_slot(k, _WRITES)]
                continue
            ops += snap["ops"]
            writes += snap["writes_ok"]
            status.update(snap["status"])
            errors.update(snap["errors"])
        return {"ops": ops, "writes_ok": writes, "status": dict(status), "errors": dict(errors)}
