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
    #: index ``i`` holds revision ``i + off``: a window of a streamed history starts
    #: at its base revision, and its arrays must not grow with the revisions before
    off: int = 0

    @classmethod
    def of(cls, claims: Claims, n: int, base: int = 1) -> TimeBounds:
        size = n + 2 - (base - 1)
        b = cls([NEG] * size, [INFINITY] * size, [None] * size, [None] * size, base - 1)
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
                if max(1, b.off) < rr <= n:
                    b._at_least(rr, op.call, op, n)
        b._propagate(n)
        return b

    def _at_least(self, r: int, t: int, op: Operation, n: int) -> None:
        i = r - self.off
        if r <= n and i > 0 and t > self.lo[i]:
            self.lo[i] = t
            self.lo_src[i] = op.id

    def _at_most(self, r: int, t: int, op: Operation) -> None:
        i = r - self.off
        if i > 0 and t < self.hi[i]:
            self.hi[i] = t
            self.hi_src[i] = op.id

    def _propagate(self, n: int) -> None:
        lo, hi = self.lo, self.hi
        top = n - self.off
        for i in range(1, top + 1):
            if lo[i - 1] > lo[i]:
                lo[i] = lo[i - 1]
                self.lo_src[i] = self.lo_src[i - 1]
        for i in range(top - 1, 0, -1):
            if hi[i + 1] < hi[i]:
                hi[i] = hi[i + 1]
                self.hi_src[i] = self.hi_src[i + 1]

    def crossing(self, n: int, by_id: dict[int, Operation]) -> Anomaly | None:
        """The first revision that must be committed after one operation was called but
        before another returned, which returned first."""
        for i in range(1, n - self.off + 1):
            if self.lo[i] > self.hi[i]:
                r = i + self.off
                a, b = by_id[self.lo_src[i]], by_id[self.hi_src[i]]  # type: ignore[index]
                return Anomaly(
                    "non-linearizable",
                    f"revision {r} must be committed after op {a.id} was called ({describe(a.input, a.output)}) "
                    f"but before op {b.id} returned ({describe(b.input, b.output)}), which returned first",
                    [a.id, b.id],
                    details={"revision": r, "after": self.lo[i], "before": self.hi[i]},
                )
        return None
