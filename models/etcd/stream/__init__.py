"""The bounded-memory, streaming check of an etcd history: windows replayed in turn.

The history is read once; operations are cut into windows at quiescent instants
(:mod:`.windows`) and each window goes through the revision replay of
:mod:`models.etcd.revisions`, seeded with what the windows before it left
(:mod:`.replay`). Everything else a window held is dropped once it is settled, so
memory follows the window size, not the history's length.

Why forgetting is safe. Let window ``i`` end at ``T``, an instant no acknowledged
operation spans, and ``B`` be the highest revision an acknowledged operation of windows
up to ``i`` claimed or observed. Each of those returned before ``T``, so ``B`` was
committed before ``T``; every acknowledged operation of a later window was called after
``T``, so it can only claim a revision above ``B`` or observe one at ``B`` or above
(anything else is reported: no order explains it). Hence the state at ``B`` and the
writes of unknown outcome no gap used yet are all a later window's replay depends on,
except reads at an explicit older revision: the store keeps ``retain`` revisions of
past, and a read below that is not checked (the verdict is then ``unknown``). Writes of
unknown outcome may take effect at any later time, so every one that filled no gap is
carried forward (a few per thousand operations; they are the only state that grows).

Why a failure is real. A window replayed on the order chosen for earlier windows is an
order the full check could also choose, so passing windows chain into one order that
explains everything checked: ``ok`` is sound. A failure is reported at once when it
needs no order (a revision reused, a time-bound crossing, an operation below ``B``), or
in the first window (its seed, the empty store, is certain). Any other failure may be
an artefact of an earlier choice. It is first replayed together with the window before
from the state before both (when that passes, the state at this window's base in the
order found is kept, so that the next window can be mended the same way); if that
fails too, it is replayed again from the latest state that a
linearizable read of every key pinned (it is the state at that revision in every order)
in this window or the one before, with every unknown write ever seen as a candidate and
only the operations at or after that revision: a relaxation of every order the full
check could find, so if even that fails, the full check fails too. Otherwise the verdict
is ``unknown`` with the reason. The file is read in record order: an acknowledged
operation arriving after the window its call belonged to was cut makes the verdict
``unknown`` (its constraints were not checked), and so does a late unknown write after a
failure (it might have filled a gap there).

What this mode does not check (the full check does): see :data:`NOT_CHECKED`.
"""

from __future__ import annotations

import gc
import heapq
import time
from collections.abc import Iterable
from typing import Any

from models.anomaly import Anomaly
from models.etcd.lease_lifetime import ttl_of
from models.etcd.stream.replay import Outcome as WindowOutcome
from models.etcd.stream.replay import WindowReplay
from models.etcd.stream.windows import Windows
from models.history import OpRecord, WatchRecord, as_operation
from models.operation import Operation
from models.pause import paused_gc
from models.verdict import Outcome, Verdict

#: The guarantees only the full check covers, named in every streamed verdict's stats.
NOT_CHECKED = (
    "watch guarantees",
    "serializable (stale) reads",
    "lost-write naming (a lost write shows as non-linearizable)",
    "lease placement, lifetimes and TimeToLive",
    "compaction errors",
    "convergence",
    "cluster version",
    "permissions",
    "known-bug labels",
)

SECOND = 1_000_000_000


def check_stream(
    records: Iterable[Any],
    *,
    window: int = 20_000,
    lag: int = 10 * SECOND,
    retain: int = 10_000,
    timeout: float | None = None,
) -> Verdict:
    """Check the records of an etcd history (header excluded) as they come.

    ``window``: operations per window, at least; ``lag``: how far behind the latest
    record time a cut is made (ns); ``retain``: revisions of past the store keeps."""
    with paused_gc():
        return _Stream(Windows(window, lag), WindowReplay(retain), timeout).run(records)


class _Stream:
    def __init__(self, windows: Windows, replay: WindowReplay, timeout: float | None) -> None:
        self.windows, self.replay = windows, replay
        self.started = time.monotonic()
        self.deadline = self.started + timeout if timeout else None
        self.stats: dict[str, Any] = {"ops": 0, "watch_messages": 0, "max_retained_ops": 0}
        self.failed: WindowOutcome | None = None
        #: the cut after the failing window: an operation called by then, read later, voids it
        self.failed_at = 0
        self.voided = ""
        self.checked = 0
        self.expiries = 0
        self.now = 0
        #: (call, -id, expiry) of the leases' expiries not yet read past
        self.expiring: list[tuple[int, int, Operation]] = []

    def run(self, records: Iterable[Any]) -> Verdict:
        for rec in records:
            if isinstance(rec, OpRecord):
                self.stats["ops"] += 1
                self._op(as_operation(rec))
            elif isinstance(rec, WatchRecord):
                self.stats["watch_messages"] += 1
        if self.failed is None:
            self._window(self.windows.rest())
        return self._verdict()

    def _op(self, op: Operation) -> None:
        if op.input.get("kind") == "lease_grant" and op.status != "fail":
            expiry = self._expiry(op)
            heapq.heappush(self.expiring, (expiry.call, -expiry.id, expiry))
        self.now = max(self.now, op.call, op.ret or 0)
        self._release(self.now)
        if self.failed is not None:
            if op.status != "fail" and op.call <= self.failed_at and not self.voided:
                self.voided = f"op {op.id}, called before the failing window was cut, came after it"
            return
        ready = self.windows.add(op)
        for late in self.windows.late_unknown:
            self.replay.add_unknown(late)
        self.windows.late_unknown.clear()
        if ready is not None:
            self._window(ready)

    def _release(self, now: int) -> None:
        """Expiries become candidates once the stream has read past their call: no gap
        of a window cut before then can take them (a filler is called before the
        revision's latest commit time), and a lease of a TTL longer than the history
        never costs the replay a candidate, as in the full check."""
        while self.expiring and self.expiring[0][0] <= now:
            self.replay.add_unknown(heapq.heappop(self.expiring)[2])

    def _expiry(self, grant: Operation) -> Operation:
        """The lease's expiry as a write of unknown outcome, as the full check has it
        (:mod:`models.etcd.synthetic`), but callable from the grant's call plus its TTL:
        a keepalive that later pushes it back may come after the window it would fall
        in, so the stream allows the earliest expiry any refresh leaves possible (more
        orders than the full check: never a false alarm, only lease lifetimes unchecked,
        as :data:`NOT_CHECKED` says)."""
        self.expiries += 1
        return Operation(
            id=-self.expiries,
            client=-1,
            call=grant.call + (ttl_of(grant) or 0) * SECOND,
            ret=None,
            input={"kind": "lease_revoke", "id": grant.input["id"], "expiry": True},
            status="unknown",
        )

    def _window(self, ops: list[Operation]) -> None:
        if not ops:
            return
        retained = (
            len(ops) + len(self.windows.buffer) + len(self.replay.previous) + len(self.replay.unknown_pool)
        )
        self.stats["max_retained_ops"] = max(self.stats["max_retained_ops"], retained)
        outcome = self.replay.check(ops, self.deadline)
        if outcome.verdict != "ok":
            self.failed, self.failed_at = outcome, self.windows.closed_at
            self.windows.buffer = []
        self.checked += 1
        if self.checked % 4 == 0:
            # The replay leaves a few reference cycles per window (RSS crept up by ~30
            # MB over a million operations without this); with the cyclic GC paused they
            # are freed here, every fourth window, since a collection scans every live
            # object (~0.1 s at 20k operations a window).
            gc.collect()

    def _verdict(self) -> Verdict:
        stats = dict(self.stats)
        stats.update(self.replay.stats)
        stats["carried_unknown_writes"] = len(self.replay.carried)
        stats["unknown_writes_seen"] = len(self.replay.unknown_pool)
        stats["streaming_not_checked"] = list(NOT_CHECKED)
        anomalies: list[Anomaly] = []
        reason = ""
        failed = self.failed
        if self.windows.late_ok:
            reason = (
                f"streaming: {len(self.windows.late_ok)} acknowledged ops came after their window was cut"
            )
        elif self.voided:
            reason = f"streaming: {self.voided}"
        elif failed is not None and failed.verdict == "illegal":
            anomalies = failed.anomalies
        elif failed is not None:
            reason = failed.reason
        elif self.replay.unchecked_old_reads:
            reason = (
                f"streaming: {self.replay.unchecked_old_reads} reads at revisions older than the kept past"
            )
        elif self.replay.stats.get("windows", 0) == 0:
            reason = "nothing to check"
        verdict: Outcome = "illegal" if anomalies else ("unknown" if reason else "ok")
        if reason:
            stats["reason"] = reason
        return Verdict(
            verdict,
            "etcd",
            anomalies,
            reason=reason,
            stats=stats,
            elapsed=time.monotonic() - self.started,
        )


__all__ = ["NOT_CHECKED", "check_stream"]
