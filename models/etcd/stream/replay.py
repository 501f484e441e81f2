"""One window of a streamed history through the revision replay, seeded with what the
windows before it left: the store at the base revision (with a bounded past for reads
at old revisions) and the writes of unknown outcome no earlier gap used.

A failure on that seed is reported only when it does not depend on the order chosen for
earlier windows (see :mod:`models.etcd.stream`): failures of the claims or of the time
bounds never do; a replay failure is confirmed by a second, relaxed replay from a state
a read of every key pinned, or else the window is ``unknown``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from models.anomaly import Anomaly
from models.etcd.observations import Observations
from models.etcd.requests import WRITE_KINDS, header_revision, put_values, writes_of
from models.etcd.revisions import RevisionResult, check_revisions
from models.etcd.revisions.claims import claims_revision
from models.etcd.revisions.gaps import pinned_revisions
from models.etcd.state import ALL_KEYS, Store, in_range, kv_from_dict
from models.operation import Operation


def placed_revision(op: Operation) -> int | None:
    """The revision an acknowledged operation claims or observes (None: not placed)."""
    if not claims_revision(op):
        return None
    if isinstance(op.output, dict) and op.output.get("error"):
        return None
    return header_revision(op.output)


def pinned_state(op: Operation, written: set[str]) -> tuple[int, list[Any]] | None:
    """(revision, kvs) when ``op`` is a linearizable read, whole, at the current revision,
    of a range holding every key any write named (``written``): the state at that
    revision, whatever order led there (a list of the prefix all keys share will do)."""
    inp, out = op.input, op.output
    if op.status != "ok" or inp.get("kind") != "range" or not isinstance(out, dict) or out.get("error"):
        return None
    start, end = inp.get("key"), inp.get("range_end")
    if not isinstance(start, str) or not end or inp.get("revision"):
        return None
    filters = ("limit", "keys_only", "count_only", "serializable", "min_mod_revision", "max_mod_revision")
    if any(inp.get(f) for f in (*filters, "min_create_revision", "max_create_revision")):
        return None
    if not (start in ("", "\x00") and end == ALL_KEYS) and not all(in_range(k, start, end) for k in written):
        return None
    rev = header_revision(out)
    return (rev, [kv_from_dict(d) for d in out.get("kvs") or []]) if rev else None


@dataclass
class _Snapshot:
    """What a window started from: a failure of the next one can replay both from it."""

    store: Store
    carried: dict[int, Operation]
    #: how many unknown writes had been seen
    pool: int
    base: int


def _below(op: Operation, rev: int | None, keep_from: int) -> bool:
    """An acknowledged read (placed at ``rev``) at a revision older than the store's kept past."""
    return rev is not None and any(0 < rr < keep_from for rr in pinned_revisions(op.input))


#: An operation and the revision it claims or observes, worked out once per window.
Placed = tuple[Operation, int | None]


def placed(ops: Iterable[Operation]) -> list[Placed]:
    return [(op, placed_revision(op)) for op in ops]


def _unknown_write(op: Operation) -> bool:
    return op.status == "unknown" and op.input.get("kind") in WRITE_KINDS


def _replay(
    ops: list[Operation], seed: Store, deadline: float | None, budget: int | None = None
) -> RevisionResult:
    """``budget``: steps (default: :func:`_budget` of the window)."""
    timeout = None if deadline is None else max(0.001, deadline - time.monotonic())
    return check_revisions(
        ops,
        Observations.of(ops, ()),
        strict=False,
        timeout=timeout,
        budget=budget if budget is not None else _budget(placed(ops), seed.revision),
        seed=seed,
        placement_checks=False,
    )


def _budget(ops: Iterable[Placed], base: int) -> int:
    """The full check's step budget for the window's revisions, plus a look at every
    candidate for every gap, eight times over: the unknown writes that never applied stay
    candidates for good, so a late window's gaps have thousands to look through, and
    the full check's budget per revision would end a long history ``unknown``."""
    top, acked, unknown = base, 0, 0
    for op, rev in ops:
        if rev is not None:
            top = max(top, rev)
            acked += bool(writes_of(op.input, op.output))
        unknown += _unknown_write(op)
    gaps = max(0, top - base - acked)
    return 20 * (top - base) + 50_000 + 8 * gaps * unknown


@dataclass
class Outcome:
    """What one window concluded: ``ok``, ``illegal`` (sure) or ``unknown`` (why)."""

    verdict: str
    anomalies: list[Anomaly] = field(default_factory=list)
    reason: str = ""


@dataclass
class WindowReplay:
    """The state carried from window to window, and nothing more."""

    retain: int
    store: Store = field(default_factory=lambda: Store(lease_check=False))
    #: the highest revision any earlier window claimed or observed
    base: int = 1
    #: unknown-outcome writes no gap used yet, by id
    carried: dict[int, Operation] = field(default_factory=dict)
    #: every unknown-outcome write seen: the pool of the relaxed confirmation
    unknown_pool: list[Operation] = field(default_factory=list)
    previous: list[Operation] = field(default_factory=list)
    previous_base: int = 1
    unchecked_old_reads: int = 0
    snapshot: _Snapshot | None = None
    #: steps earlier windows left of their budget
    spare: int = 0
    #: every key a write (of any outcome) named: what a read must cover to pin a state
    written: set[str] = field(default_factory=set)
    stats: dict[str, int] = field(default_factory=dict)

    def add_unknown(self, op: Operation) -> None:
        if _unknown_write(op):
            self.written.update(k for k, _ in put_values(op.input))
            self.carried[op.id] = op
            self.unknown_pool.append(op)

    def check(self, window: Sequence[Operation], deadline: float | None) -> Outcome:
        in_window = placed(window)
        early = self._before_base(in_window)
        if early:
            return Outcome("illegal", early)
        snap = _Snapshot(self.store.copy(), dict(self.carried), len(self.unknown_pool), self.base)
        admitted = self._admit(in_window, self.store.revision)
        admitted += placed(self.carried.values())
        budget = _budget(admitted, self.store.revision) + self.spare
        result = _replay([op for op, _ in admitted], self.store, deadline, budget)
        if result.verdict == "ok":
            # What a window leaves of its budget goes to the next ones: the full check's
            # budget is one for the whole history, and a hard window should not end a
            # long history unknown when it fits the budget the full check would have.
            self.spare = max(0, budget - int(result.stats.get("steps", 0)))
            self._settle(window, result, snap)
            return Outcome("ok")
        if result.verdict == "unknown":
            return Outcome("unknown", reason=str(result.stats.get("reason", "budget exhausted")))
        if self.base == 1 or _sure(result):
            return Outcome("illegal", result.anomalies)
        before = self.snapshot
        if before is not None:
            joint = self._joint(window, before, snap, deadline)
            if joint.verdict == "ok":
                return Outcome("ok")
            if before.base == 1 and joint.verdict == "illegal":
                return Outcome("illegal", joint.anomalies)
        return self._confirm(window, result, deadline)

    def _joint(
        self, window: Sequence[Operation], before: _Snapshot, snap: _Snapshot, deadline: float | None
    ) -> RevisionResult:
        """Replay the window before this one and this one together from the state before
        both: the failure may come of a gap the earlier window filled near its end. When
        it passes, the next window keeps a state to replay from again, the state at this
        window's base in the order found (else two failing windows in a row, each mended
        by the one before it, would end the stream unconfirmed)."""
        both = [*self.previous, *window]
        keep_from = before.store.revision - self.retain if before.base > 1 else 0
        ops = [op for op in both if not _unknown_write(op) and not _below(op, placed_revision(op), keep_from)]
        ops += before.carried.values()
        ops += self.unknown_pool[before.pool :]
        self.store = before.store
        joint = _replay(ops, self.store, deadline)
        if joint.verdict == "ok":
            mid = _mid_snapshot(joint, self.store, ops, snap, self.unknown_pool[snap.pool :])
            self.carried = {op.id: op for op in ops if _unknown_write(op)}
            self.base = snap.base
            self._settle(window, joint, mid)
            self.stats["joint_replays"] = self.stats.get("joint_replays", 0) + 1
        return joint

    def _admit(self, window: Sequence[Placed], revision: int) -> list[Placed]:
        """The window's operations but its unknown writes (carried from now on) and the
        reads below the kept past (not checked: counted)."""
        keep_from = revision - self.retain if self.base > 1 else 0
        ops: list[Placed] = []
        for op, rev in window:
            self.written.update(k for k, _ in put_values(op.input))
            if _below(op, rev, keep_from):
                self.unchecked_old_reads += 1
            elif _unknown_write(op):
                self.add_unknown(op)
            else:
                ops.append((op, rev))
        return ops

    def _before_base(self, window: Sequence[Placed]) -> list[Anomaly]:
        """An operation called after every acknowledged operation of the earlier windows
        returned cannot claim or observe a revision below the highest they showed, nor
        claim that one: no order explains it (the full check names it as a time-bound
        crossing or a reused revision)."""
        out = []
        for op, rev in window:
            if rev is None or self.base <= 1:
                continue
            wrote = bool(writes_of(op.input, op.output))
            if rev < self.base or (wrote and rev == self.base):
                out.append(
                    Anomaly(
                        "non-linearizable",
                        f"op {op.id} was called after revision {self.base} was committed (an operation "
                        f"that returned before it was called showed it) but reports revision {rev}"
                        + (" as the one it wrote" if wrote else ""),
                        [op.id],
                        details={"revision": rev, "committed_before": self.base},
                    )
                )
        return out

    def _settle(self, window: Sequence[Operation], result: RevisionResult, snap: _Snapshot | None) -> None:
        """Keep only what later windows can need: the store from ``retain`` revisions
        back, the unused unknown writes, this window and the state before it (to replay
        it again with the next one when that one fails on this one's order)."""
        self.snapshot = snap
        for w in result.writers:
            if w is not None:
                self.carried.pop(w, None)
        self.previous, self.previous_base = list(window), self.base
        self.base = max(self.base, result.max_revision)
        self.store.forget_before(max(1, self.store.revision - self.retain))
        self.stats["windows"] = self.stats.get("windows", 0) + 1
        self.stats["max_window_ops"] = max(self.stats.get("max_window_ops", 0), len(window))
        self.stats["max_store_versions"] = max(self.stats.get("max_store_versions", 0), self.store.versions())

    def _confirm(
        self, window: Sequence[Operation], failed: RevisionResult, deadline: float | None
    ) -> Outcome:
        """Replay again from the latest state a read of every key pinned below the
        failure, with every unknown write ever seen as a candidate and only the
        operations at or above that revision: a relaxation of every order the full
        check could choose, so a failure here is one there too."""
        rf = max((int(a.details.get("revision", 0)) for a in failed.anomalies), default=0)
        seeds: list[tuple[int, list[Any]]] = [(1, [])] if self.previous_base == 1 else []
        pins = (pinned_state(op, self.written) for op in [*self.previous, *window])
        seeds += [s for s in pins if s is not None]
        seeds = [s for s in seeds if self.previous_base <= s[0] < rf]
        if not seeds:
            why = "no read of every key in this window or the one before pins a state below it"
            return Outcome("unknown", reason=_unconfirmed(rf, why))
        p, kvs = max(seeds, key=lambda s: s[0])
        ops = []
        for op in [*self.previous, *window]:
            rev = placed_revision(op)
            if rev is None or rev < p or (rev == p and writes_of(op.input, op.output)):
                continue
            if any(0 < rr < p for rr in pinned_revisions(op.input)):
                continue
            ops.append(op)
        ops += self.unknown_pool
        seed = Store.seeded(p, [kv for kv in kvs if kv is not None])
        again = _replay(ops, seed, deadline)
        if again.verdict == "illegal":
            return Outcome("illegal", again.anomalies)
        why = f"a replay from the state read at revision {p} with every unknown write explains it"
        return Outcome("unknown", reason=_unconfirmed(rf, why if again.verdict == "ok" else again.verdict))


def _mid_snapshot(
    joint: RevisionResult, store: Store, ops: Sequence[Operation], snap: _Snapshot, since: Sequence[Operation]
) -> _Snapshot | None:
    """The state at ``snap.base`` in the order the joint replay found, with the unknown
    writes it left unused up to there: what the next window's joint replay starts from.
    None if it placed one seen only after ``snap`` at or below that revision (it cannot:
    such a write was called after the cut), so that no write could be used twice."""
    first = joint.max_revision + 1 - len(joint.writers)  # the revision of writers[0]
    used = {w for i, w in enumerate(joint.writers) if w is not None and i + first <= snap.base}
    later = {op.id for op in since}
    if used & later:
        return None
    carried = {op.id: op for op in ops if _unknown_write(op) and op.id not in used and op.id not in later}
    return _Snapshot(store.truncated(snap.base), carried, snap.pool, snap.base)


def _sure(result: RevisionResult) -> bool:
    """A failure of the claims (a revision reused, below 2, a missing header) or of the
    time bounds, found before any gap was filled: it holds whatever the earlier windows'
    order. One that counts the writers (``writes`` in details) depends on which unknown
    writes earlier gaps used."""
    return result.store is None and not any("writes" in a.details for a in result.anomalies)


def _unconfirmed(rf: int, why: str) -> str:
    return (
        f"streaming: the replay fails at revision {rf} on the order chosen for earlier windows, "
        f"and it cannot be confirmed in bounded memory ({why}); the full check decides"
    )
