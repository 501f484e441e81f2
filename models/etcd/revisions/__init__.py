"""The fast, revision-guided linearizability check of etcd histories.

Why not a generic search: every etcd write moves one global revision and every response
carries it, so no per-key partition is sound (a read of ``a`` at revision 7 orders the
writes to ``b`` too), and one 60k-operation partition is far beyond a Wing-Gong search.
But the revision *is* the linearization order of writes, and acknowledged writes tell
us theirs. So instead of searching orders we replay, in five steps, one module each:

1. :mod:`.claims`: the revision each acknowledged operation made or saw;
2. :mod:`.bounds`: when each revision can have been committed;
3. :mod:`.gaps` and :mod:`.evidence`: which writes of unknown outcome may fill the
   revisions nobody claims, in which order to try them, and what rules them out;
4. :mod:`.search`: the replay into a store, backtracking over the gap choices;
5. :mod:`.leases` and :mod:`.compaction`: what does not move the revision, checked on
   the placement the replay found.

Serializable reads and defragment are not linearizable and are left to
:mod:`models.etcd.stale_reads`. Revision 1 is the empty store (a fresh cluster).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from models.anomaly import Anomaly
from models.etcd.observations import Observations
from models.etcd.revisions.bounds import TimeBounds
from models.etcd.revisions.claims import Claims, claim
from models.etcd.revisions.compaction import check_compaction
from models.etcd.revisions.evidence import GapEvidence
from models.etcd.revisions.gaps import Gaps, read_revisions
from models.etcd.revisions.leases import check_leases
from models.etcd.revisions.search import RevisionSearch
from models.etcd.state import KV, Store
from models.operation import Operation
from models.verdict import Outcome


@dataclass
class RevisionResult:
    """What the replay established, for the checks that read it (watch, stale reads)."""

    verdict: Outcome
    anomalies: list[Anomaly] = field(default_factory=list)
    #: revision -> id of the operation that created it (index 0 and 1 unused)
    writers: list[int | None] = field(default_factory=list)
    #: revision -> its kv changes (None value: deleted), as replayed
    changes: list[list[tuple[str, KV | None]]] = field(default_factory=list)
    store: Store | None = None
    #: earliest/latest possible commit time of each revision
    lo: list[int] = field(default_factory=list)
    hi: list[int] = field(default_factory=list)
    max_revision: int = 1
    stats: dict[str, Any] = field(default_factory=dict)


def check_revisions(
    ops: Sequence[Operation],
    observations: Observations | None = None,
    *,
    strict: bool = True,
    timeout: float | None = None,
    budget: int | None = None,
    seed: Store | None = None,
    placement_checks: bool = True,
) -> RevisionResult:
    """Decide linearizability of the etcd operations ``ops``.

    ``observations``: what the history showed (default: what ``ops``' responses show).
    With ``strict``, watch events and serializable reads constrain the gap fillers as
    exactly as linearizable reads (they are etcd guarantees too, so the verdict stays
    exact); without, they only order candidates, so that a history whose watches are
    wrong still gets an assignment the watch checker can then blame.

    ``seed``: a store at some revision B to replay on from (a window of a streamed
    history, :mod:`models.etcd.stream`); the per-revision lists then start at B (index
    ``i`` is revision ``i + B - 1``). ``placement_checks`` False leaves out the lease
    and compaction checks, which need the grants and compactions of the whole history.
    """
    started = time.monotonic()
    obs = observations if observations is not None else Observations.of(ops, ())
    base = seed.revision if seed is not None else 1
    claims, anomalies = claim(ops, obs.event_revisions, base)
    n = claims.max_revision
    if anomalies:
        return RevisionResult(
            "illegal", anomalies, max_revision=n, stats={"elapsed": time.monotonic() - started}
        )
    bounds = TimeBounds.of(claims, n, base)
    crossing = bounds.crossing(n, claims.by_id)
    if crossing is not None:
        stats = {"elapsed": time.monotonic() - started}
        return RevisionResult("illegal", [crossing], lo=bounds.lo, hi=bounds.hi, max_revision=n, stats=stats)
    claims.unknown.sort(key=lambda o: o.call)
    gaps = Gaps(
        claims,
        GapEvidence.of(claims, obs.sightings, obs.for_search(), n),
        bounds,
        obs.coverage,
        strict,
        read_at=read_revisions(ops),
    )
    deadline = started + timeout if timeout else None
    search = RevisionSearch(claims, gaps, n, budget=budget, deadline=deadline, seed=seed)
    verdict, reason = search.run(timeout)
    result = RevisionResult(
        verdict,
        [],
        search.writers,
        search.changes_at,
        search.store,
        bounds.lo,
        bounds.hi,
        n,
        _stats(claims, search, n, time.monotonic() - started, reason),
    )
    if verdict == "illegal":
        result.anomalies.append(search.failure_anomaly())
    elif verdict == "ok" and placement_checks:
        result.anomalies += check_leases(ops, claims, search.writers, search.changes_at, bounds.hi)
        result.anomalies += check_compaction(ops, claims)
        if result.anomalies:
            result.verdict = "illegal"
    return result


def _stats(claims: Claims, search: RevisionSearch, n: int, elapsed: float, reason: str) -> dict[str, Any]:
    writers = search.writers
    stats: dict[str, Any] = {
        "elapsed": elapsed,
        "revisions": n,
        "acknowledged_writes": len(claims.fixed),
        "unknown_writes": len(claims.unknown),
        "gaps_filled": sum(
            1
            for i in range(search.base + 1, n + 1)
            if i not in claims.fixed and writers[i - search.off] is not None
        ),
        "steps": search.steps,
        "backtracks": search.backtracks,
        "memo_hits": search.memo_hits,
        "ignored_ops": claims.ignored,
    }
    if reason:
        stats["reason"] = reason
    return stats


__all__ = ["RevisionResult", "check_revisions"]
