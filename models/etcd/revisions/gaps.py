"""Step 3, gaps: which writes of unknown outcome may fill a revision nobody claims, in
which order to try them, and whether one fits what was observed there.

Revisions from 2 to the highest one observed that no acknowledged write claims must each
be filled by one operation whose outcome is unknown (or by an acknowledged lease revoke
whose header names that revision); an unknown write that fills no gap never happened
(or happened after the history ends). A candidate for gap ``r`` must have been called
before ``T_r``'s upper bound and must write when applied to state ``r-1``. Candidates
named by what was observed at ``r`` (a kv with ``mod_revision == r`` and that write's
unique value, from any read, ``prev_kv`` or watch event) come first, then unnamed ones
in call order (earliest first, the best choice for the time bounds; those whose key
falls short of its next observed version before the others), then ones named elsewhere.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from models.etcd.observations import Sighting, WatchCoverage
from models.etcd.revisions.bounds import TimeBounds
from models.etcd.revisions.claims import Claims
from models.etcd.revisions.evidence import GapEvidence
from models.etcd.state import KV, Store, in_range
from models.operation import Operation


def event_fits(changes: dict[str, KV | None], ob: Sighting) -> bool:
    """Whether what revision ``r`` changed explains ``ob``, seen at ``r``."""
    if ob.key not in changes:
        return False
    kv = changes[ob.key]
    if ob.kv is None or kv is None:
        return ob.kv is None and kv is None
    if ob.keys_only:
        return kv._replace(value="") == ob.kv._replace(value="")
    return kv == ob.kv


def read_revisions(ops: Sequence[Operation]) -> frozenset[int]:
    """Header revisions of every answer and revisions reads asked for (over-inclusive:
    it only keeps the search from treating a revision as unread)."""
    out: set[int] = set()
    for op in ops:
        if isinstance(op.output, dict):
            rev = (op.output.get("header") or {}).get("revision")
            if isinstance(rev, int):
                out.add(rev)
        out.update(pinned_revisions(op.input))
    return frozenset(out)


def pinned_revisions(req: dict[str, Any]) -> Iterator[int]:
    """The past revisions the ranges of ``req`` (a txn's branches included) ask for."""
    stack = [req]
    while stack:
        sub = stack.pop()
        if sub.get("revision") and sub.get("kind") == "range":
            yield int(sub["revision"])
        stack.extend((sub.get("success") or []) + (sub.get("failure") or []))


class Pins:
    """Per gap, the past revisions that reads answered at or after it ask for: the replay
    from there depends on the store's state at each of them. Worked out for a gap only
    when asked (the search asks only where it may come back)."""

    def __init__(self, claims: Claims) -> None:
        self._claims = claims
        self._pins: list[tuple[int, int]] | None = None
        self._at: list[int] = []
        self._cache: dict[int, tuple[int, ...]] = {}

    def before(self, gap: int) -> tuple[int, ...]:
        found = self._cache.get(gap)
        if found is None:
            if self._pins is None:
                observers = self._claims.observers.items()
                self._pins = sorted(
                    (r, x) for r, ops in observers for op in ops for x in pinned_revisions(op.input)
                )
                self._at = [at for at, _ in self._pins]
            later = self._pins[bisect_left(self._at, gap) :]
            found = self._cache[gap] = tuple(sorted({x for _, x in later if x < gap}))
        return found


@dataclass
class Gaps:
    claims: Claims
    evidence: GapEvidence
    bounds: TimeBounds
    coverage: Sequence[WatchCoverage]
    #: Watch events and serializable reads constrain fillers as exactly as linearizable
    #: reads (they are etcd guarantees too); without, they only order candidates.
    strict: bool
    #: Every revision some response was answered at or a read asked for.
    read_at: frozenset[int] = frozenset()

    def unread(self, r: int) -> bool:
        """Nothing shows the state at revision ``r``: no response or read names it, no
        watch covers it, nothing was seen changed at it."""
        return (
            r not in self.read_at
            and not self.claims.observers.get(r)
            and not self.claims.revokes.get(r)
            and not self.evidence.obs_at.get(r)
            and not any(c.lo <= r <= c.hi for c in self.coverage)
        )

    def commuting_out_of_order(self, r: int, op: Operation, prev: Operation | None) -> bool:
        """Revokes of unknown outcome that fill adjacent gaps commute (a key is under one
        lease at a time), and when nothing reads the revision between them either order
        gives the same states everywhere else: only the one by call time is tried. The
        bounds allow it: a filler must be called before its revision's upper bound, and
        those bounds only grow with the revision. Without this, leases expiring after
        the last watch had ended are tried in every order before the final reads."""
        if prev is None or op.input.get("kind") != "lease_revoke" or prev.input.get("kind") != "lease_revoke":
            return False
        if r - 1 in self.claims.fixed or not self.unread(r - 1):
            return False
        return (prev.call, prev.id) > (op.call, op.id)

    def watched(self, r: int) -> bool:
        """Something other than a linearizable response observed revision ``r``."""
        return any(not ob.exact for ob in self.evidence.obs_at.get(r, ())) or any(
            c.lo <= r <= c.hi for c in self.coverage
        )

    def candidates(self, r: int, used: set[int], store: Store) -> tuple[list[Operation], int]:
        """The writes to try at ``r``, in order, and how many of the first ones must fit
        every observation there (watch events included): the list then holds them twice,
        first for the strict pass, then for the rest."""
        hi = self.bounds.hi[r - self.bounds.off]
        first = [op for op in self.claims.revokes.get(r, ()) if r not in self.claims.fixed and op.call <= hi]
        at_r, unnamed, elsewhere = [], [], []
        for op in self.claims.unknown:
            if op.id in used or op.call > hi:
                continue
            names = self.evidence.names_of[op.id]
            if r in names:
                at_r.append(op)
            elif names:
                elsewhere.append(op)
            else:
                unnamed.append(op)
        if unnamed:
            unnamed = self.evidence.deficit_first(unnamed, r, store)
            if self.unread(r):
                # Nothing saw this revision: most often a lease expired after the traffic
                # it served, and only a later read shows which keys went.
                unnamed.sort(key=lambda op: op.input.get("kind") != "lease_revoke")
        order = first + at_r + unnamed + elsewhere
        if self.watched(r):
            return order + order, len(order)
        return order, 0

    def relaxed(self, r: int, cands: list[Operation]) -> bool:
        """No candidate could match the watches/serializable reads at ``r`` whatever
        was chosen before: the strict search would fail here on every branch, so the
        observations at ``r`` only order candidates (the watch checker will report)."""
        if not self.strict or not self.watched(r):
            return False
        return not any(self.could_fit(op, r) for op in cands)

    def could_fit(self, op: Operation, r: int) -> bool:
        """Whether ``op`` could produce what was observed at ``r``, whatever the state."""
        puts, dels = self.evidence.static.get(op.id, (set(), []))
        revoke = op.input.get("kind") == "lease_revoke"

        def can(k: str, kv: KV | None) -> bool:
            if kv is not None:
                return k in puts
            return revoke or any(in_range(k, s, e) for s, e in dels)

        for ob in self.evidence.obs_at.get(r, ()):
            if not can(ob.key, ob.kv):
                return False
        for c in self.coverage:
            if c.lo <= r <= c.hi:
                seen = c.events.get(r, {})
                if not all(can(k, kv) for k, kv in seen.items()):
                    return False
                shows_puts = "noput" not in c.filters
                if (
                    not seen
                    and shows_puts
                    and not revoke
                    and not dels
                    and all(in_range(k, c.key, c.end) for k in puts)
                ):
                    return False
        return True

    def fits_everything(self, r: int, changes: list[tuple[str, KV | None]]) -> bool:
        """What revision ``r`` changed matches every observation and watch stream there."""
        ch = dict(changes)
        return all(event_fits(ch, ob) for ob in self.evidence.obs_at.get(r, ())) and all(
            c.fits(r, changes) for c in self.coverage if c.lo <= r <= c.hi
        )

    def fits_observed(self, r: int, changes: list[tuple[str, KV | None]]) -> bool:
        """For an acknowledged write: what was observed of the keys it wrote must match.

        Only values depend on earlier choices (version, create_revision); which keys a
        put writes does not, so a missing or extra event is left to the watch checker
        instead of sending the search through every earlier choice."""
        ch = dict(changes)
        if not all(event_fits(ch, ob) for ob in self.evidence.obs_at.get(r, ()) if ob.key in ch):
            return False
        for c in self.coverage:
            if c.lo <= r <= c.hi:
                for k, kv in c.events.get(r, {}).items():
                    if k in ch and ch[k] != kv:
                        return False
        return True
