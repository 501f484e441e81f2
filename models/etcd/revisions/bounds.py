"""Step 2, time: when each revision can have been committed.

Let ``T_r`` be the instant revision ``r`` was committed; ``T`` increases. A write at
``r`` gives ``call <= T_r <= return``; an observer of ``R`` gives ``T_R <= return`` and
``T_{R+1} >= call``; a ``future_revision`` error for ``rr`` gives ``T_rr >= call``. These
are unary bounds on a monotone chain, so propagating the lower bounds forward (max) and
the upper bounds backward (min) decides feasibility exactly; a revision whose bounds
cross names the two operations that cannot both hold. This is what catches stale reads
and writes reordered against real time.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.anomaly import Anomaly
from models.etcd.model import describe
from models.etcd.revisions.claims import Claims
from models.operation import INFINITY, Operation

NEG = -(1 << 62)


@dataclass
class TimeBounds:
    """``lo[r]``/``hi[r]``: the earliest and latest instant revision ``r`` can have been
    committed (propagated along the chain), and the operation each bound comes from."""

    lo: list[int]
    hi: list[int]
    lo_src: list[int | None]
    hi_src: list[int | None]

    @classmethod
    def of(cls, claims: Claims, n: int) -> TimeBounds:
        b = cls([NEG] * (n + 2), [INFINITY] * (n + 2), [None] * (n + 2), [None] * (n + 2))
        for r, op in claims.fixed.items():
            b._at_least(r, op.call, op, n)
            b._at_most(r, op.effective_return, op)
        observing = [(r, op) for r, lst in claims.observers.items() for op in lst]
        observing += [(r, op) for r, lst in claims.revokes.items() for op in lst]
        observing += claims.time_only
        for r, op in observing:
            b._at_most(r, op.effective_return, op)
            b._at_least(r + 1, op.call, op, n)
        for op in claims.errors:
            if op.output.get("error") == "future_revision" and op.input.get("kind") in ("range", "compact"):
                rr = int(op.input.get("revision") or 0)
                if 1 < rr <= n:
                    b._at_least(rr, op.call, op, n)
        b._propagate(n)
        return b

    def _at_least(self, r: int, t: int, op: Operation, n: int) -> None:
        if r <= n and t > self.lo[r]:
            self.lo[r] = t
            self.lo_src[r] = op.id

    def _at_most(self, r: int, t: int, op: Operation) -> None:
        if t < self.hi[r]:
            self.hi[r] = t
            self.hi_src[r] = op.id

    def _propagate(self, n: int) -> None:
        lo, hi = self.lo, self.hi
        for r in range(1, n + 1):
            if lo[r - 1] > lo[r]:
                lo[r] = lo[r - 1]
                self.lo_src[r] = self.lo_src[r - 1]
        for r in range(n - 1, 0, -1):
            if hi[r + 1] < hi[r]:
                hi[r] = hi[r + 1]
                self.hi_src[r] = self.hi_src[r + 1]

    def crossing(self, n: int, by_id: dict[int, Operation]) -> Anomaly | None:
        """The first revision that must be committed after one operation was called but
        before another returned, which returned first."""
        for r in range(1, n + 1):
            if self.lo[r] > self.hi[r]:
                a, b = by_id[self.lo_src[r]], by_id[self.hi_src[r]]  # type: ignore[index]
                return Anomaly(
                    "non-linearizable",
                    f"revision {r} must be committed after op {a.id} was called ({describe(a.input, a.output)}) "
                    f"but before op {b.id} returned ({describe(b.input, b.output)}), which returned first",
                    [a.id, b.id],
                    details={"revision": r, "after": self.lo[r], "before": self.hi[r]},
                )
        return None
