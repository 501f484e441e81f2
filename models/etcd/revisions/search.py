"""Step 4, replay: revisions replayed once, in order, into a store, choosing gap fillers.

Each write's predicted response must equal the one observed, then each observer of that
revision is answered from the store and compared. A mismatch backtracks to the last gap
that had another candidate (the store keeps an undo log only while such a choice point
is open, so memory stays linear); with none, the history is not linearizable and the
deepest failure is reported. A step budget bounds pathological backtracking: past it
the verdict is ``unknown``.

A gap whose every continuation failed is remembered by what the rest of the replay
depends on: the revision, the store's state then (a digest kept per revision as it is
replayed), its state at every past revision a later read pins, the writes already used,
and the one before (for commuting revokes). Reached again by another order of earlier
choices (revokes of leases expiring in any order, fillers that end in the same state),
it fails at once instead of replaying its whole subtree again (porcupine caches
linearized states the same way).
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from models.anomaly import Anomaly
from models.etcd.model import describe
from models.etcd.requests import apply, canonical
from models.etcd.revisions.claims import Claims
from models.etcd.revisions.gaps import Gaps, Pins, event_fits
from models.etcd.state import KV, Store
from models.operation import Operation
from models.verdict import Outcome


class _Frame:
    """A gap being filled: its candidates, the next to try, and the store's undo mark."""

    __slots__ = ("r", "cands", "idx", "mark", "strict", "relaxed")

    def __init__(self, r: int, cands: tuple[list[Operation], int], mark: int, relaxed: bool = False) -> None:
        self.r = r
        self.cands, self.strict = cands
        self.relaxed = relaxed
        self.idx = 0
        self.mark = mark


class Failure(NamedTuple):
    """The deepest point the replay reached before no choice fitted."""

    revision: int
    op: Operation | None
    expected: Any
    observed: Any
    why: str


class RevisionSearch:
    """The replay with its choice points: all its state is here, none in closures."""

    def __init__(
        self,
        claims: Claims,
        gaps: Gaps,
        n: int,
        *,
        budget: int | None,
        deadline: float | None,
        seed: Store | None = None,
    ):
        self.claims = claims
        self.gaps = gaps
        self.n = n
        self.strict = gaps.strict
        self.deadline = deadline
        #: the replay starts after revision ``base``: 1 (empty) or a streamed window's seed
        self.base = seed.revision if seed is not None else 1
        #: index ``i`` of the per-revision lists holds revision ``i + off``
        self.off = off = self.base - 1
        self.limit = budget if budget is not None else 20 * (n - off) + 50_000
        self.store = seed if seed is not None else Store(lease_check=False)
        #: revision -> id of the operation that created it
        self.writers: list[int | None] = [None] * (n + 1 - off)
        #: revision -> its kv changes (None value: deleted), as replayed
        self.changes_at: list[list[tuple[str, KV | None]]] = [[] for _ in range(n + 1 - off)]
        self.used: set[int] = set()
        #: (revision, op id) of every filler placed since the oldest open choice
        self.fill_log: list[tuple[int, int]] = []
        self.frames: list[_Frame] = []
        self.steps = 0
        self.backtracks = 0
        self.best = Failure(0, None, None, None, "")
        #: revision -> digest of the store's latest state right after it, relative to
        #: the state before the oldest open choice
        self.digest: list[int] = [0] * (n + 1 - off)
        #: gap -> the past revisions reads answered at or after it pin
        self.pinned = Pins(claims)
        #: keys of gaps entered since the oldest open choice, and of those known to fail
        self.entered: list[tuple[int, tuple[Any, ...]]] = []
        self.dead: set[tuple[Any, ...]] = set()
        self.memo_hits = 0

    def run(self, timeout: float | None = None) -> tuple[Outcome, str]:
        """(verdict, reason for unknown)."""
        if not self._observers_hold(self.base):
            return "illegal", ""
        r = self.base + 1
        while r <= self.n:
            self.steps += 1
            if self.steps > self.limit:
                return "unknown", f"search budget exhausted ({self.limit} steps) placing unknown writes"
            if self.deadline is not None and self.steps % 512 == 0 and time.monotonic() > self.deadline:
                return "unknown", f"timeout ({timeout:.3g} s) at revision {r} of {self.n}"
            if self._place(r) and self._observers_hold(r):
                if not self.frames:
                    self.store.forget_undo()
                    self.fill_log.clear()
                    self.entered.clear()
                    self.dead.clear()
                r += 1
                continue
            resumed = self._backtrack()
            if resumed is None:
                return "illegal", ""
            r = resumed
        return "ok", ""

    def _fail(self, r: int, op: Operation | None, expected: Any, observed: Any, why: str) -> None:
        if r > self.best.revision:
            self.best = Failure(r, op, expected, observed, why)

    def _place(self, r: int) -> bool:
        """Commit revision ``r``: its acknowledged write, or the first filler that fits."""
        wop = self.claims.fixed.get(r)
        if wop is None:
            return self._fill_gap(r)
        res = apply(self.store, wop.input)
        if not res.changes or canonical(wop.input, res.output) != canonical(wop.input, wop.output):
            self._fail(r, wop, res.output, wop.output, "write")
            return False
        if self.strict and not self.gaps.fits_observed(r, res.changes):
            self._fail(r, wop, res.output, wop.output, "watch")
            return False
        self._commit(r, wop, res.changes)
        return True

    def _fill_gap(self, r: int) -> bool:
        # Only a gap entered while a choice is open can be reached again.
        key = self._state_key(r) if self.frames else None
        if key is not None and key in self.dead:
            self.memo_hits += 1
            self._fail(r, None, None, None, "gap")
            return False
        cands = self.gaps.candidates(r, self.used, self.store)
        f = _Frame(r, cands, self.store.mark(), self.gaps.relaxed(r, cands[0]))
        if self._try(f):
            if key is not None:
                self.entered.append((r, key))
            if f.idx < len(f.cands):
                if not self.frames:
                    self._start_digests(r)
                self.frames.append(f)
            return True
        if key is not None:
            self.dead.add(key)
        self._fail(r, None, None, None, "gap")
        return False

    def _digest_after(self, r: int, changes: list[tuple[str, KV | None]]) -> int:
        """The digest of the state after ``r`` from the one before it: only the keys
        ``r`` changed move it (kept only while a choice is open, from its revision on,
        so that a replay without choices pays nothing)."""
        d = self.digest[r - 1 - self.off]
        for key, kv in changes:
            d ^= hash((key, self.store.get(key, r - 1))) ^ hash((key, kv))
        return d

    def _start_digests(self, r: int) -> None:
        i = r - self.off
        self.digest[i - 1] = 0
        self.digest[i] = self._digest_after(r, self.changes_at[i])

    def _state_key(self, r: int) -> tuple[Any, ...]:
        """What the replay from gap ``r`` on depends on (see the module docstring)."""
        # The writer before matters only where revokes commute (gaps.commuting_out_of_order).
        i = r - self.off
        w = self.writers[i - 1] if r - 1 not in self.claims.fixed and self.gaps.unread(r - 1) else None
        pinned = tuple(self.digest[x - self.off] for x in self.pinned.before(r) if x > self.off)
        return (r, self.digest[i - 1], self.store.compact_revision, pinned, frozenset(self.used), w)

    def _commit(self, r: int, op: Operation, changes: list[tuple[str, KV | None]]) -> None:
        i = r - self.off
        if self.frames:
            self.digest[i] = self._digest_after(r, changes)
        self.store.commit(r, changes)
        self.writers[i] = op.id
        self.changes_at[i] = changes

    def _try(self, f: _Frame) -> bool:
        """Place the next candidate of ``f`` that fits, if any."""
        evidence = self.gaps.evidence
        while f.idx < len(f.cands):
            op = f.cands[f.idx]
            f.idx += 1
            self.steps += 1
            w = self.writers[f.r - 1 - self.off]
            if self.gaps.commuting_out_of_order(f.r, op, self.claims.by_id.get(w) if w is not None else None):
                continue
            res = apply(self.store, op.input)
            if res.error or not res.changes:
                continue
            if op.status == "ok" and canonical(op.input, res.output) != canonical(op.input, op.output):
                continue
            if evidence.contradicted(f.r, res.changes) or evidence.over_version(f.r, res.changes):
                continue
            ch = dict(res.changes)
            obs = evidence.obs_at.get(f.r, ())
            if any(ob.exact and not event_fits(ch, ob) for ob in obs):
                continue
            if self.strict and not f.relaxed and (f.strict or obs):
                if not self.gaps.fits_everything(f.r, res.changes):
                    continue
            elif f.strict and self.gaps.fits_everything(f.r, res.changes) != (f.idx <= f.strict):
                continue
            self.used.add(op.id)
            self.fill_log.append((f.r, op.id))
            self._commit(f.r, op, res.changes)
            return True
        return False

    def _observers_hold(self, r: int) -> bool:
        """Every read of revision ``r`` is answered by the store as it was observed, and
        no revoke answered at ``r`` deleted keys without creating a revision."""
        for op in self.claims.observers.get(r, ()):
            self.steps += 1
            res = apply(self.store, op.input)
            if canonical(op.input, res.output) != canonical(op.input, op.output):
                self._fail(r, op, res.output, op.output, "read")
                return False
        for op in self.claims.revokes.get(r, ()):
            if self.writers[r - self.off] == op.id:
                continue
            if self.store.lease_keys(int(op.input["id"])):
                self._fail(r, op, "revoke deletes keys at a new revision", op.output, "revoke")
                return False
        return True

    def _backtrack(self) -> int | None:
        """Resume at the last open choice with its next candidate; the revision to go on
        from, or None when no choice is left."""
        while self.frames:
            self.backtracks += 1
            f = self.frames[-1]
            self.store.undo(f.mark)
            while self.fill_log and self.fill_log[-1][0] >= f.r:
                self.used.discard(self.fill_log.pop()[1])
            # Every gap entered after f was explored to the end: none of them can succeed.
            while self.entered and self.entered[-1][0] > f.r:
                self.dead.add(self.entered.pop()[1])
            if self._try(f):
                if f.idx >= len(f.cands):
                    self.frames.pop()
                if self._observers_hold(f.r):
                    return f.r + 1
                continue
            self.frames.pop()
            if self.entered and self.entered[-1][0] == f.r:
                self.dead.add(self.entered.pop()[1])
        return None

    def failure_anomaly(self) -> Anomaly:
        r, op, expected, observed, why = self.best
        if op is None:
            return Anomaly(
                "non-linearizable",
                f"no write can have created revision {r}: no acknowledged write reports it and no write with an "
                "unknown outcome fits (called in time, writing, and matching what was observed at that revision)",
                [],
                details={"revision": r},
            )
        what = "write" if why == "write" else "response"
        shown = describe(op.input, expected) if isinstance(expected, dict) else expected
        return Anomaly(
            "non-linearizable",
            f"op {op.id} at revision {r}: {what} does not match the state the revisions imply: "
            f"observed {describe(op.input, observed)}, expected {shown}",
            [op.id],
            details={"revision": r, "expected": expected, "observed": observed},
        )
