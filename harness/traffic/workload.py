"""Running the plan's client programs against a cluster, recording every call.

All clients share one asyncio loop in one thread: on two cores shared with the cluster,
the client's CPU per request decides throughput, and one loop with one gRPC poller spends
less per request than a thread per client. Every loop here is bounded by the run's end
time and by a count.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter as Tally
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.client.aio import AsyncEtcdClient, AsyncRecorder
from harness.client.recorder import Clock, Counter
from harness.history.jsonl import HistoryWriter
from harness.traffic import ops as opsmod
from harness.traffic.plan import ClientProgram, Plan, op_random

#: Per-request deadline: short enough that a paused or cut-off member turns into an
#: unknown outcome quickly, long enough for a loaded 2-core machine.
REQUEST_TIMEOUT = 2.0
#: Hard cap on requests per client, whatever the duration and rate.
MAX_OPS_PER_CLIENT = 2_000_000


@dataclass
class TrafficStats:
    """Live counters for the progress bar and the summary (updated from the loop thread)."""

    ops: int = 0
    writes_ok: int = 0
    status: Tally[str] = field(default_factory=Tally)
    errors: Tally[str] = field(default_factory=Tally)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> dict[str, object]:
        with self.lock:
            return {
                "ops": self.ops,
                "writes_ok": self.writes_ok,
                "status": dict(self.status),
                "errors": dict(self.errors),
            }


class Gate:
    """Holds the traffic still while a fault wants a quiet cluster (maintenance in a
    lull): clients send nothing new while it is held, and ``hold`` returns once the
    requests in flight have come back (or ``drain_s`` passed). ``opened``: a flag
    shared with other processes (:mod:`harness.traffic.workers`), left as it is."""

    def __init__(self, opened: Any = None) -> None:
        if opened is None:
            opened = threading.Event()
            opened.set()
        self._open = opened
        #: Requests sent and not yet answered (changed by the traffic's loop thread only).
        self.in_flight = 0

    def pending(self) -> int:
        return self.in_flight

    @contextlib.contextmanager
    def hold(self, drain_s: float = 3.0, max_s: float = 15.0) -> Iterator[None]:
        self._open.clear()
        releaser = threading.Timer(max_s, self._open.set)
        releaser.daemon = True
        releaser.start()
        try:
            deadline = time.monotonic() + drain_s
            while self.pending() and time.monotonic() < deadline:
                time.sleep(0.005)
            yield
        finally:
            releaser.cancel()
            self._open.set()

    async def passed(self) -> None:
        while not self._open.is_set():
            await asyncio.sleep(0.01)

    def sent(self, delta: int) -> None:
        self.in_flight += delta


class Traffic:
    """The clients of a plan, run until ``stop`` is set or the plan's duration is over."""

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
    ):
        self.plan = plan
        self.endpoints = endpoints
        self.writer = writer
        self.clock = clock
        self.ids = ids
        self.qps = qps
        self.duration = duration
        self.stats = TrafficStats()
        self.gate: Gate = Gate()
        self.stop = threading.Event()
        #: Why the traffic ended before its time (an exception of the loop), or None.
        self.error: str | None = None
        #: Seconds the traffic ran.
        self.ran_for = 0.0

    def run(self) -> None:
        """Blocks until the traffic is over (call from a dedicated thread). Never raises:
        a loop that died is recorded in ``error``, and the run will not pass on it."""
        started = time.monotonic()
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported through ``error``, judged by the runner
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.ran_for = time.monotonic() - started

    async def _main(self) -> None:
        clients = [AsyncEtcdClient(ep, timeout=REQUEST_TIMEOUT, who="user") for ep in self.endpoints]
        deadline = time.monotonic() + self.duration
        try:
            await asyncio.gather(*(self._client(p, clients, deadline) for p in self.plan.clients))
        finally:
            for c in clients:
                await c.close()

    async def _client(self, prog: ClientProgram, clients: list[AsyncEtcdClient], deadline: float) -> None:
        plan = self.plan
        n = len(clients)
        pinned = prog.member % n if prog.member is not None else None
        recorders = [
            AsyncRecorder(c, self.writer, self.clock, self.ids, prog.client, member=c.endpoint)
            for c in clients
        ]
        st = opsmod.ClientState(client=prog.client)
        interval = len(plan.clients) / self.qps if self.qps else 0.0
        next_at = time.monotonic() + (interval * prog.client / max(1, len(plan.clients)))
        stats = self.stats
        for seq in range(MAX_OPS_PER_CLIENT):
            if self.stop.is_set() or time.monotonic() >= deadline:
                break
            if interval:
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at = max(next_at + interval, time.monotonic() - 1.0)
            template = prog.program[seq % len(prog.program)]
            rnd = op_random(plan.seed, prog.client, seq)
            op = opsmod.build(
                plan.profile, plan.keyspace, template, st, seq, rnd, plan.lease_ttl, plan.value_kb
            )
            member = pinned if pinned is not None else (seq + prog.client) % n
            await self.gate.passed()
            self.gate.sent(1)
            try:
                rec = await recorders[member].execute(op, REQUEST_TIMEOUT)
            finally:
                self.gate.sent(-1)
            opsmod.after(op, rec.status, rec.output, st)
            with stats.lock:
                stats.ops += 1
                stats.status[rec.status] += 1
                if rec.error is not None:
                    stats.errors[rec.error.code] += 1
                if (
                    rec.status == "ok"
                    and op["kind"] != "range"
                    and not (isinstance(rec.output, dict) and "error" in rec.output)
                ):
                    stats.writes_ok += 1
            if rec.status != "ok" and rec.error is not None and rec.error.code == "UNAVAILABLE":
                # The member is down: back off a little instead of spinning on it. A
                # rotating client moves on to the next member at once, as a client with
                # several endpoints fails over; only a pause keeps it from spinning when
                # every member is down.
                await asyncio.sleep(0.05 if pinned is not None else 0.005)
