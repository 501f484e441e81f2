"""The fast, revision-guided linearizability checker for etcd.

Why not a generic search: every etcd write moves one global revision and every response
carries it, so no per-key partition is sound (a read of ``a`` at revision 7 orders the
writes to ``b`` too), and one 60k-operation partition is far beyond a Wing-Gong search.
But the revision *is* the linearization order of writes, and acknowledged writes tell
us theirs. So instead of searching orders we replay:

1. **Claims.** Each acknowledged write (put, delete that deleted, txn whose branch
   wrote) claims the revision in its header; two claims on one revision are a
   ``revision-reused`` anomaly. Non-writing operations (reads, txns that only read,
   lease grant, compact, a revoke of a lease without keys) *observe* the revision in
   their header: they ran after that revision and before the next.
2. **Time.** Let ``T_r`` be the instant revision ``r`` was committed; ``T`` increases.
   A write at ``r`` gives ``call <= T_r <= return``; an observer of ``R`` gives
   ``T_R <= return`` and ``T_{R+1} >= call``; a ``future_revision`` error for ``rr``
   gives ``T_rr >= call``. These are unary bounds on a monotone chain, so propagating
   the lower bounds forward (max) and the upper bounds backward (min) decides
   feasibility exactly; a revision whose bounds cross names the two operations that
   cannot both hold. This is what catches stale reads and writes reordered against real
   time.
3. **Gaps.** Revisions from 2 to the highest one observed that no acknowledged write
   claims must each be filled by one operation whose outcome is unknown (or by an
   acknowledged lease revoke whose header names that revision); an unknown write that
   fills no gap never happened (or happened after the history ends). A candidate for
   gap ``r`` must have been called before ``T_r``'s upper bound and must write when
   applied to state ``r-1``; candidates that are named by what was observed at ``r``
   (a kv with ``mod_revision == r`` and that write's unique value, from any read,
   ``prev_kv`` or watch event) come first, then unnamed ones in call order (earliest
   first, which is the best choice for the time bounds), then ones named elsewhere.
   Observations from linearizable responses are exact constraints and prune candidates
   outright, and so does what they imply about keys: no write to a key that a later
   read, prev_kv or txn read shows unchanged since before the gap; no put that would
   take a key past the next version observed for it; at a revision where a key was
   observed created, only a writer that creates it. Unnamed candidates whose key falls
   short of its next observed version come first. Without these, a crash with hundreds
   of requests in flight leaves runs of gaps whose wrong fillers only show after the
   run, and the search permutes the whole run.
4. **Replay.** Revisions are replayed once, in order, into a
   :class:`~models.etcd.state.Store`: each write's predicted response must equal the
   one observed, then each observer of that revision is answered from the store and
   compared. A mismatch backtracks to the last gap that had another candidate (the
   store keeps an undo log only while such a choice point is open, so memory stays
   linear); with none, the history is not linearizable and the deepest failure is
   reported. A step budget bounds pathological backtracking: past it the verdict is
   ``unknown``.
5. **Leases and compaction**, which do not move the revision, are checked on the
   placement afterwards (:func:`_check_leases`, :func:`_check_compaction`): a put under a
   lease must come after a grant and before any revoke; ``lease_not_found`` and
   ``compacted`` errors need a revoke/compact that could have come first; a read at a
   revision that a compaction finished before it must have failed. These are one-sided
   (they only flag what no order can explain), never stricter than etcd.

Serializable reads and defragment are not linearizable and are left to
:mod:`models.etcd.stale_reads`. Revision 1 is the empty store (a fresh cluster).
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from models.anomaly import Anomaly
from models.etcd.model import describe
from models.etcd.requests import (
    WRITE_KINDS,
    apply,
    canonical,
    delete_ranges,
    header_revision,
    is_serializable_read,
    leases_of,
    put_values,
    taken_branch,
    writes_of,
)
from models.etcd.state import KV, Store, in_range, kv_from_dict
from models.operation import INFINITY, Operation
from models.verdict import Outcome

NEG = -(1 << 62)
KINDS = frozenset({"range", "put", "delete", "txn", "lease_grant", "lease_revoke", "compact", "defragment"})


@dataclass
class Observation:
    """A kv seen at its ``mod_revision`` (``kv`` None: a deletion seen by a watch).

    ``exact`` observations come from linearizable responses, which the replay checks
    anyway, so they may prune gap candidates; others only order them.
    """

    revision: int
    key: str
    kv: KV | None
    keys_only: bool = False
    exact: bool = False


@dataclass
class LinResult:
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


def observations_from_ops(ops: Iterable[Operation], *, exact: bool) -> list[Observation]:
    """Every kv an ok response shows, with its mod_revision."""
    out: list[Observation] = []

    def walk(req: dict[str, Any], output: Any) -> None:
        if not isinstance(output, dict) or output.get("error"):
            return
        kind = req.get("kind")
        ex = exact and not (kind == "range" and req.get("serializable"))
        if kind == "range":
            for d in output.get("kvs") or []:
                kv = kv_from_dict(d)
                if kv is not None and kv.mod_revision > 1:
                    out.append(Observation(kv.mod_revision, kv.key, kv, bool(req.get("keys_only")), ex))
        elif kind == "put":
            kv = kv_from_dict(output.get("prev_kv"))
            if kv is not None and kv.mod_revision > 1:
                out.append(Observation(kv.mod_revision, kv.key, kv, False, ex))
        elif kind == "delete":
            for d in output.get("prev_kvs") or []:
                kv = kv_from_dict(d)
                if kv is not None and kv.mod_revision > 1:
                    out.append(Observation(kv.mod_revision, kv.key, kv, False, ex))
        elif kind == "txn":
            for sub, resp in taken_branch(req, output):
                walk(sub, resp)

    for op in ops:
        if op.status == "ok":
            walk(op.input, op.output)
    return out


def _ev_ok(changes: dict[str, KV | None], ob: Observation) -> bool:
    if ob.key not in changes:
        return False
    kv = changes[ob.key]
    if ob.kv is None or kv is None:
        return ob.kv is None and kv is None
    if ob.keys_only:
        return kv._replace(value="") == ob.kv._replace(value="")
    return kv == ob.kv


@dataclass
class WatchCoverage:
    """What one watch stream saw: for each revision in [lo, hi] the changes in its range
    are exactly ``events.get(r, {})`` if etcd is correct (a watch misses nothing)."""

    key: str
    end: str | None
    lo: int
    hi: int
    events: dict[int, dict[str, KV | None]]

    def fits(self, r: int, changes: list[tuple[str, KV | None]]) -> bool:
        mine = {k: kv for k, kv in changes if in_range(k, self.key, self.end)}
        return mine == self.events.get(r, {})


class _Frame:
    __slots__ = ("r", "cands", "idx", "mark", "strict", "relaxed")

    def __init__(self, r: int, cands: tuple[list[Operation], int], mark: int, relaxed: bool = False) -> None:
        self.r = r
        self.cands, self.strict = cands
        self.relaxed = relaxed
        self.idx = 0
        self.mark = mark


def check_revisions(
    ops: Sequence[Operation],
    *,
    observations: Iterable[Observation] = (),
    extra_revisions: Iterable[int] = (),
    coverage: Sequence[WatchCoverage] = (),
    strict: bool = True,
    timeout: float | None = None,
    budget: int | None = None,
) -> LinResult:
    """Decide linearizability of the etcd operations ``ops`` (see the module docstring).

    ``observations`` and ``extra_revisions`` are what watches and serializable reads
    saw: they name gap fillers and raise the highest revision that must be explained.
    ``coverage``: what each watch stream saw completely. With ``strict`` all of these
    are constraints on the gap fillers, as exact as linearizable reads (they are etcd
    guarantees too, so the verdict stays exact); without, they only order candidates,
    so that a history whose watches are wrong still gets an assignment the watch
    checker can then blame.
    """
    started = time.monotonic()
    deadline = started + timeout if timeout else None
    anomalies: list[Anomaly] = []
    by_id = {op.id: op for op in ops}

    fixed: dict[int, Operation] = {}
    observers: dict[int, list[Operation]] = defaultdict(list)
    revokes: dict[int, list[Operation]] = defaultdict(list)
    unknown: list[Operation] = []
    errors: list[Operation] = []
    time_only: list[tuple[int, Operation]] = []
    max_rev = 1
    ignored = 0
    for op in ops:
        inp = op.input
        kind = inp.get("kind")
        if kind not in KINDS:
            ignored += 1
            continue
        if op.status == "unknown":
            if kind in WRITE_KINDS:
                unknown.append(op)
            continue
        if op.status != "ok" or kind == "defragment" or is_serializable_read(inp):
            continue
        out = op.output
        if isinstance(out, dict) and out.get("error"):
            errors.append(op)
            continue
        rev = header_revision(out)
        if rev is None:
            anomalies.append(
                Anomaly("non-linearizable", f"op {op.id}: ok response without a header revision", [op.id])
            )
            continue
        max_rev = max(max_rev, rev)
        if rev < 1:
            anomalies.append(
                Anomaly(
                    "revision-mismatch",
                    f"op {op.id} reports revision {rev} (< 1)",
                    [op.id],
                    details={"revision": rev},
                )
            )
            continue
        w = writes_of(inp, out)
        if w:
            if rev < 2:
                anomalies.append(
                    Anomaly(
                        "revision-mismatch",
                        f"op {op.id} wrote at revision {rev} (< 2)",
                        [op.id],
                        details={"revision": rev},
                    )
                )
            elif rev in fixed:
                other = fixed[rev]
                anomalies.append(
                    Anomaly(
                        "revision-reused",
                        f"ops {other.id} and {op.id} both report creating revision {rev}: "
                        f"{describe(other.input, other.output)} / {describe(inp, out)}",
                        [other.id, op.id],
                        details={"revision": rev},
                    )
                )
            else:
                fixed[rev] = op
        elif w is None:
            revokes[rev].append(op)
        elif kind in ("lease_grant", "compact"):
            time_only.append((rev, op))
        else:
            observers[rev].append(op)
    highest_op = max_rev
    for r in extra_revisions:
        max_rev = max(max_rev, r)
    # Every revision from 2 up needs a write of its own: a revision beyond what all the
    # writes together could reach is impossible (and would not fit in memory).
    creators = len(fixed) + len(unknown) + sum(len(v) for v in revokes.values())
    if max_rev > 1 + creators:
        src = "a response header" if highest_op == max_rev else "a watch event or serializable read"
        anomalies.append(
            Anomaly(
                "non-linearizable",
                f"revision {max_rev} was observed ({src}), but the history's {creators} writes can create "
                f"revisions up to {1 + creators} only",
                details={"revision": max_rev, "writes": creators},
            )
        )
    if anomalies:
        return LinResult(
            "illegal", anomalies, max_revision=max_rev, stats={"elapsed": time.monotonic() - started}
        )

    n = max_rev
    # -- time bounds -------------------------------------------------------------
    lo = [NEG] * (n + 2)
    hi = [INFINITY] * (n + 2)
    lo_src: list[int | None] = [None] * (n + 2)
    hi_src: list[int | None] = [None] * (n + 2)

    def bound_lo(r: int, t: int, op: Operation) -> None:
        if r <= n and t > lo[r]:
            lo[r] = t
            lo_src[r] = op.id

    def bound_hi(r: int, t: int, op: Operation) -> None:
        if t < hi[r]:
            hi[r] = t
            hi_src[r] = op.id

    for r, op in fixed.items():
        bound_lo(r, op.call, op)
        bound_hi(r, op.effective_return, op)
    observing = [(r, op) for r, lst in observers.items() for op in lst]
    observing += [(r, op) for r, lst in revokes.items() for op in lst]
    observing += time_only
    for r, op in observing:
        bound_hi(r, op.effective_return, op)
        bound_lo(r + 1, op.call, op)
    for op in errors:
        if op.output.get("error") == "future_revision" and op.input.get("kind") in ("range", "compact"):
            rr = int(op.input.get("revision") or 0)
            if 1 < rr <= n:
                bound_lo(rr, op.call, op)
    LO = lo[:]
    LO_src = lo_src[:]
    for r in range(1, n + 1):
        if LO[r - 1] > LO[r]:
            LO[r] = LO[r - 1]
            LO_src[r] = LO_src[r - 1]
    HI = hi[:]
    HI_src = hi_src[:]
    for r in range(n - 1, 0, -1):
        if HI[r + 1] < HI[r]:
            HI[r] = HI[r + 1]
            HI_src[r] = HI_src[r + 1]
    for r in range(1, n + 1):
        if LO[r] > HI[r]:
            a, b = by_id[LO_src[r]], by_id[HI_src[r]]  # type: ignore[index]
            anomalies.append(
                Anomaly(
                    "non-linearizable",
                    f"revision {r} must be committed after op {a.id} was called ({describe(a.input, a.output)}) "
                    f"but before op {b.id} returned ({describe(b.input, b.output)}), which returned first",
                    [a.id, b.id],
                    details={"revision": r, "after": LO[r], "before": HI[r]},
                )
            )
            return LinResult(
                "illegal",
                anomalies,
                lo=LO,
                hi=HI,
                max_revision=n,
                stats={"elapsed": time.monotonic() - started},
            )

    # -- gap candidates ----------------------------------------------------------
    obs_at: dict[int, list[Observation]] = defaultdict(list)
    named: dict[tuple[str, str], set[int]] = defaultdict(set)
    for ob in observations:
        if 1 < ob.revision <= n:
            obs_at[ob.revision].append(ob)
            if ob.kv is not None and not ob.keys_only:
                named[(ob.key, ob.kv.value)].add(ob.revision)
    names_of: dict[int, set[int]] = {}
    for op in unknown:
        revs: set[int] = set()
        for kv in put_values(op.input):
            revs |= named.get(kv, set())
        names_of[op.id] = revs
    unknown.sort(key=lambda o: o.call)
    static: dict[int, tuple[set[str], list[tuple[str, str | None]]]] = {}
    for op in unknown:
        static[op.id] = (set(k for k, _ in put_values(op.input)), delete_ranges(op.input))
    # Per key, the (read revision, mod_revision) seen by linearizable single-key and
    # range reads: a write to k at r is impossible if the first read of k at or after r
    # shows a mod_revision below r.
    key_reads: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for lst in observers.values():
        for op in lst:
            for rr, d in _range_reads(op.input, op.output, header_revision(op.output) or 0):
                key_reads[str(d.get("key"))].append((rr, int(d.get("mod_revision") or 0)))
    # An acknowledged put's prev_kv (a delete's prev_kvs) is a read of its keys just
    # before its revision. Without these, put-only traffic leaves an unknown put to a key
    # free to fill any gap, and the mistake only shows at the key's next write, after
    # every gap between has been permuted.
    for rev, op in fixed.items():
        kind = op.input.get("kind")
        if kind == "put":
            prevs = [op.output.get("prev_kv")]
        elif kind == "delete":
            prevs = op.output.get("prev_kvs") or []
        else:
            continue
        for d in prevs:
            if isinstance(d, dict) and d.get("mod_revision"):
                key_reads[str(d.get("key"))].append((rev - 1, int(d["mod_revision"])))
    for lst2 in key_reads.values():
        lst2.sort()
    # Per key, the (revision, version, create_revision) of what linearizable responses
    # showed, and the revisions of acknowledged puts to it: a key's version counts its
    # puts since its creation, so a candidate put that would push the version past the
    # next one observed cannot be right. This prunes at the gap what the replay would
    # otherwise find only at that observation, after permuting every gap in between.
    versions_seen: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    # Keys that responses show were created at a revision: its writer put them.
    created_at: dict[int, set[str]] = defaultdict(set)
    for ob in observations:
        if ob.exact and ob.kv is not None and 1 < ob.revision <= n:
            versions_seen[ob.key].append((ob.revision, ob.kv.version, ob.kv.create_revision))
            created_at[ob.kv.create_revision].add(ob.key)
    for lst3 in versions_seen.values():
        lst3.sort()
    acked_puts: dict[str, list[int]] = defaultdict(list)
    for rev, op in fixed.items():
        for k in _put_keys(op.input, op.output):
            acked_puts[k].append(rev)
    for lst4 in acked_puts.values():
        lst4.sort()

    def contradicted(r: int, changes: list[tuple[str, KV | None]]) -> bool:
        for k, _ in changes:
            seen = key_reads.get(k)
            if seen:
                i = bisect_left(seen, (r, -1))
                if i < len(seen) and seen[i][1] < r:
                    return True
        return False

    def next_seen(k: str, r: int) -> tuple[int, int, int] | None:
        """(revision, version, create_revision) of the first observation of ``k`` at or
        after revision ``r``."""
        seen = versions_seen.get(k)
        if not seen:
            return None
        i = bisect_left(seen, (r, -1, -1))
        return seen[i] if i < len(seen) else None

    def over_version(r: int, changes: list[tuple[str, KV | None]]) -> bool:
        made = created_at.get(r)
        if made:
            ch = dict(changes)
            for k in made:
                kv = ch.get(k)
                if kv is None or kv.create_revision != r:
                    return True
        for k, kv in changes:
            nxt = next_seen(k, r)
            if nxt is None or nxt[2] >= r:
                continue
            m, v, c = nxt
            # The key lives from c through m: this write cannot delete or recreate it,
            # and its puts up to m (this one, the acknowledged ones after it, and the
            # one at m) are v.
            if kv is None or kv.create_revision != c:
                return True
            puts = acked_puts.get(k, ())
            at_m = m > r and m not in fixed
            if kv.version + bisect_right(puts, m) - bisect_right(puts, r) + at_m > v:
                return True
        return False

    def deficit(k: str, r: int) -> int | None:
        """The revision by which key ``k`` still needs a put that no acknowledged or
        named write supplies (its next observed version says so), or None."""
        nxt = next_seen(k, r)
        if nxt is None:
            return None
        m, v, c = nxt
        cur = store.get(k, 0)
        if c >= r or cur is None or cur.create_revision != c:
            return None
        puts = acked_puts.get(k, ())
        supplied = cur.version + bisect_right(puts, m) - bisect_left(puts, r) + (m not in fixed)
        return m if supplied < v else None

    def deficit_first(cands: list[Operation], r: int) -> list[Operation]:
        """Unnamed candidates whose key falls short of its next observed version, the
        most urgent first (earliest deadline): an unobserved put is usually one that a
        later put overwrote, and the version count is what tells where it went."""
        urgent: list[tuple[int, int, Operation]] = []
        rest: list[Operation] = []
        for i, op in enumerate(cands):
            due = min((d for k in static[op.id][0] if (d := deficit(k, r)) is not None), default=None)
            if due is None:
                rest.append(op)
            else:
                urgent.append((due, i, op))
        if not urgent:
            return cands
        urgent.sort(key=lambda t: (t[0], t[1]))
        return [op for _, _, op in urgent] + rest

    def candidates(r: int) -> tuple[list[Operation], int]:
        first = [op for op in revokes.get(r, ()) if r not in fixed and op.call <= HI[r]]
        at_r, unnamed, elsewhere = [], [], []
        for op in unknown:
            if op.id in used or op.call > HI[r]:
                continue
            names = names_of[op.id]
            if r in names:
                at_r.append(op)
            elif names:
                elsewhere.append(op)
            else:
                unnamed.append(op)
        if unnamed:
            unnamed = deficit_first(unnamed, r)
        order = first + at_r + unnamed + elsewhere
        if any(not ob.exact for ob in obs_at.get(r, ())) or any(c.lo <= r <= c.hi for c in coverage):
            # first only what fits every observation (watch events included), then the rest
            return order + order, len(order)
        return order, 0

    def relaxed(r: int, cands: list[Operation]) -> bool:
        """No candidate could match the watches/serializable reads at ``r`` whatever
        was chosen before: the strict search would fail here on every branch, so the
        observations at ``r`` only order candidates (the watch checker will report)."""
        if not strict:
            return False
        if not any(not ob.exact for ob in obs_at.get(r, ())) and not any(c.lo <= r <= c.hi for c in coverage):
            return False
        return not any(could_fit(op, r) for op in cands)

    # -- replay --------------------------------------------------------------------
    store = Store(lease_check=False)
    writers: list[int | None] = [None] * (n + 1)
    changes_at: list[list[tuple[str, KV | None]]] = [[] for _ in range(n + 1)]
    used: set[int] = set()
    fill_log: list[tuple[int, int]] = []
    frames: list[_Frame] = []
    steps = 0
    limit = budget if budget is not None else 20 * n + 50_000
    best: tuple[int, Operation | None, Any, Any, str] = (0, None, None, None, "")
    backtracks = 0

    def fail(r: int, op: Operation | None, expected: Any, observed: Any, why: str) -> None:
        nonlocal best
        if r > best[0]:
            best = (r, op, expected, observed, why)

    def try_candidate(f: _Frame) -> bool:
        nonlocal steps
        while f.idx < len(f.cands):
            op = f.cands[f.idx]
            f.idx += 1
            steps += 1
            res = apply(store, op.input)
            if res.error or not res.changes:
                continue
            if op.status == "ok" and canonical(op.input, res.output) != canonical(op.input, op.output):
                continue
            if contradicted(f.r, res.changes) or over_version(f.r, res.changes):
                continue
            ch = dict(res.changes)
            obs = obs_at.get(f.r, ())
            if any(ob.exact and not _ev_ok(ch, ob) for ob in obs):
                continue
            if strict and not f.relaxed and (f.strict or obs):
                if not all(_ev_ok(ch, ob) for ob in obs) or not all(
                    c.fits(f.r, res.changes) for c in coverage if c.lo <= f.r <= c.hi
                ):
                    continue
            elif f.strict:
                fits_all = all(_ev_ok(ch, ob) for ob in obs) and all(
                    c.fits(f.r, res.changes) for c in coverage if c.lo <= f.r <= c.hi
                )
                if fits_all != (f.idx <= f.strict):
                    continue
            used.add(op.id)
            fill_log.append((f.r, op.id))
            store.commit(f.r, res.changes)
            writers[f.r] = op.id
            changes_at[f.r] = res.changes
            return True
        return False

    def fits_observed(r: int, changes: list[tuple[str, KV | None]]) -> bool:
        """For an acknowledged write: what was observed of the keys it wrote must match.

        Only values depend on earlier choices (version, create_revision); which keys a
        put writes does not, so a missing or extra event is left to the watch checker
        instead of sending the search through every earlier choice."""
        ch = dict(changes)
        if not all(_ev_ok(ch, ob) for ob in obs_at.get(r, ()) if ob.key in ch):
            return False
        for c in coverage:
            if c.lo <= r <= c.hi:
                for k, kv in c.events.get(r, {}).items():
                    if k in ch and ch[k] != kv:
                        return False
        return True

    def could_fit(op: Operation, r: int) -> bool:
        """Whether ``op`` could produce what was observed at ``r``, whatever the state."""
        puts, dels = static.get(op.id, ((), ()))
        revoke = op.input.get("kind") == "lease_revoke"

        def can(k: str, kv: KV | None) -> bool:
            if kv is not None:
                return k in puts
            return revoke or any(in_range(k, s, e) for s, e in dels)

        for ob in obs_at.get(r, ()):
            if not can(ob.key, ob.kv):
                return False
        for c in coverage:
            if c.lo <= r <= c.hi:
                seen = c.events.get(r, {})
                if not all(can(k, kv) for k, kv in seen.items()):
                    return False
                if not seen and not revoke and not dels and all(in_range(k, c.key, c.end) for k in puts):
                    return False
        return True

    def check_observers(r: int) -> bool:
        nonlocal steps
        for op in observers.get(r, ()):
            steps += 1
            res = apply(store, op.input)
            exp = canonical(op.input, res.output)
            got = canonical(op.input, op.output)
            if exp != got:
                fail(r, op, res.output, op.output, "read")
                return False
        for op in revokes.get(r, ()):
            if writers[r] == op.id:
                continue
            if store.lease_keys(int(op.input["id"])):
                fail(r, op, "revoke deletes keys at a new revision", op.output, "revoke")
                return False
        return True

    r = 2
    verdict: Outcome = "ok"
    reason = ""
    if not check_observers(1):
        r = n + 1
        verdict = "illegal"
    while r <= n:
        steps += 1
        if steps > limit:
            verdict, reason = "unknown", f"search budget exhausted ({limit} steps) placing unknown writes"
            break
        if deadline is not None and steps % 512 == 0 and time.monotonic() > deadline:
            verdict, reason = "unknown", f"timeout ({timeout}s) at revision {r} of {n}"
            break
        ok = True
        wop = fixed.get(r)
        if wop is not None:
            res = apply(store, wop.input)
            if not res.changes or canonical(wop.input, res.output) != canonical(wop.input, wop.output):
                fail(r, wop, res.output, wop.output, "write")
                ok = False
            elif strict and not fits_observed(r, res.changes):
                fail(r, wop, res.output, wop.output, "watch")
                ok = False
            else:
                store.commit(r, res.changes)
                writers[r] = wop.id
                changes_at[r] = res.changes
        else:
            cands = candidates(r)
            f = _Frame(r, cands, store.mark(), relaxed(r, cands[0]))
            if try_candidate(f):
                if f.idx < len(f.cands):
                    frames.append(f)
            else:
                fail(r, None, None, None, "gap")
                ok = False
        if ok and check_observers(r):
            if not frames:
                store.forget_undo()
                fill_log.clear()
            r += 1
            continue
        # backtrack to the last open choice
        resumed = False
        while frames:
            backtracks += 1
            f = frames[-1]
            store.undo(f.mark)
            while fill_log and fill_log[-1][0] >= f.r:
                used.discard(fill_log.pop()[1])
            if try_candidate(f):
                if f.idx >= len(f.cands):
                    frames.pop()
                if check_observers(f.r):
                    r = f.r + 1
                    resumed = True
                    break
                continue
            frames.pop()
        if not resumed:
            verdict = "illegal"
            break

    elapsed = time.monotonic() - started
    stats: dict[str, Any] = {
        "elapsed": elapsed,
        "revisions": n,
        "acknowledged_writes": len(fixed),
        "unknown_writes": len(unknown),
        "gaps_filled": sum(1 for i in range(2, n + 1) if i not in fixed and writers[i] is not None),
        "steps": steps,
        "backtracks": backtracks,
        "ignored_ops": ignored,
    }
    if reason:
        stats["reason"] = reason
    result = LinResult(verdict, [], writers, changes_at, store, LO, HI, n, stats)
    if verdict == "illegal":
        result.anomalies.append(_failure_anomaly(best, LO, HI))
        return result
    if verdict == "unknown":
        return result
    result.anomalies.extend(_check_leases(ops, fixed, revokes, writers, changes_at, HI, by_id))
    result.anomalies.extend(_check_compaction(ops, errors, time_only, observers))
    if result.anomalies:
        result.verdict = "illegal"
    return result


def _range_reads(req: dict[str, Any], output: Any, header: int) -> list[tuple[int, dict[str, Any]]]:
    """(revision read, kv) of every kv a read-only request's ranges returned, those in
    the branch its txn took included (a txn that lost its compare often reads the key)."""
    kind = req.get("kind")
    if not isinstance(output, dict):
        return []
    if kind == "range":
        rr = int(req.get("revision") or 0) or header
        return [(rr, d) for d in output.get("kvs") or [] if isinstance(d, dict)]
    if kind != "txn":
        return []
    out: list[tuple[int, dict[str, Any]]] = []
    for sub, resp in taken_branch(req, output):
        out.extend(_range_reads(sub, resp, header))
    return out


def _put_keys(req: dict[str, Any], output: Any) -> list[str]:
    """Keys an acknowledged write put (the branch its txn took)."""
    kind = req.get("kind")
    if kind == "put":
        return [str(req["key"])]
    if kind != "txn" or not isinstance(output, dict):
        return []
    out: list[str] = []
    for sub, resp in taken_branch(req, output):
        out.extend(_put_keys(sub, resp))
    return out


def _failure_anomaly(
    best: tuple[int, Operation | None, Any, Any, str], LO: list[int], HI: list[int]
) -> Anomaly:
    r, op, expected, observed, why = best
    if op is None:
        return Anomaly(
            "non-linearizable",
            f"no write can have created revision {r}: no acknowledged write reports it and no write with an "
            "unknown outcome fits (called in time, writing, and matching what was observed at that revision)",
            [],
            details={"revision": r},
        )
    what = "write" if why == "write" else "response"
    return Anomaly(
        "non-linearizable",
        f"op {op.id} at revision {r}: {what} does not match the state the revisions imply: "
        f"observed {describe(op.input, observed)}, expected {describe(op.input, expected) if isinstance(expected, dict) else expected}",
        [op.id],
        details={"revision": r, "expected": expected, "observed": observed},
    )


def _check_leases(
    ops: Sequence[Operation],
    fixed: dict[int, Operation],
    revokes: dict[int, list[Operation]],
    writers: list[int | None],
    changes_at: list[list[tuple[str, KV | None]]],
    HI: list[int],
    by_id: dict[int, Operation],
) -> list[Anomaly]:
    out: list[Anomaly] = []
    grants: dict[int, list[Operation]] = defaultdict(list)
    all_revokes: dict[int, list[Operation]] = defaultdict(list)
    for op in ops:
        kind = op.input.get("kind")
        if op.status == "fail":
            continue
        if kind == "lease_grant" and not (isinstance(op.output, dict) and op.output.get("error")):
            grants[int(op.input["id"])].append(op)
        elif kind == "lease_revoke":
            all_revokes[int(op.input["id"])].append(op)
    # When each lease was surely revoked: a revision before which it still existed. Only
    # acknowledged revokes count: the search may have placed one of unknown outcome (or
    # an expiry) in a gap that another write could fill as well.
    revoked_at: dict[int, int] = {}
    for r, w in enumerate(writers):
        if w is not None and by_id[w].input.get("kind") == "lease_revoke" and by_id[w].status == "ok":
            lease = int(by_id[w].input["id"])
            revoked_at[lease] = min(revoked_at.get(lease, r), r)
    for r, lst in revokes.items():
        for op in lst:
            if writers[r] != op.id:
                lease = int(op.input["id"])
                revoked_at[lease] = min(revoked_at.get(lease, r + 1), r + 1)

    def granted_before(lease: int, r: int, ret: int) -> bool:
        for g in grants.get(lease, ()):
            if g.status == "ok":
                if (header_revision(g.output) or 0) < r:
                    return True
            elif g.call <= ret:
                return True
        return False

    for r, op in fixed.items():
        for lease in {kv.lease for _, kv in changes_at[r] if kv is not None and kv.lease}:
            if not granted_before(lease, r, HI[r]):
                out.append(
                    Anomaly(
                        "non-linearizable",
                        f"op {op.id} put under lease {lease} at revision {r} before any grant of it",
                        [op.id],
                    )
                )
            elif lease in revoked_at and revoked_at[lease] <= r:
                out.append(
                    Anomaly(
                        "non-linearizable",
                        f"op {op.id} put under lease {lease} at revision {r}, after the lease was revoked (revision {revoked_at[lease]})",
                        [op.id],
                    )
                )
    for lease, lst in all_revokes.items():
        done = [
            op
            for op in lst
            if op.status == "ok" and not (isinstance(op.output, dict) and op.output.get("error"))
        ]
        if len(done) > len(grants.get(lease, ())):
            out.append(
                Anomaly(
                    "non-linearizable",
                    f"lease {lease} revoked successfully {len(done)} times",
                    [op.id for op in done],
                )
            )
        for op in done:
            ret = op.effective_return
            if not grants.get(lease) or all(g.call > ret for g in grants[lease]):
                out.append(
                    Anomaly(
                        "non-linearizable",
                        f"op {op.id} revoked lease {lease} that was never granted before",
                        [op.id],
                    )
                )

    for op in ops:
        if (
            op.status != "ok"
            or not isinstance(op.output, dict)
            or op.output.get("error") != "lease_not_found"
        ):
            continue
        kind = op.input.get("kind")
        leases = [int(op.input["id"])] if kind == "lease_revoke" else leases_of(op.input)
        explained = False
        for lease in leases:
            done = [g for g in grants.get(lease, ()) if g.status == "ok" and g.effective_return < op.call]
            if not done:
                explained = True
                break
            if any(v.id != op.id and v.call < op.effective_return for v in all_revokes.get(lease, ())):
                explained = True
                break
        if not explained:
            out.append(
                Anomaly(
                    "non-linearizable",
                    f"op {op.id} got lease_not_found though the lease was granted before it and never revoked: {describe(op.input, op.output)}",
                    [op.id],
                )
            )
    return out


def _check_compaction(
    ops: Sequence[Operation],
    errors: list[Operation],
    time_only: list[tuple[int, Operation]],
    observers: dict[int, list[Operation]],
) -> list[Anomaly]:
    out: list[Anomaly] = []
    compacts = [(r, op) for r, op in time_only if op.input.get("kind") == "compact"]
    any_compacts = [op for op in ops if op.input.get("kind") == "compact" and op.status != "fail"]
    for r, op in compacts:
        c = int(op.input["revision"])
        if c > r:
            out.append(
                Anomaly(
                    "non-linearizable",
                    f"op {op.id} compacted at {c}, beyond the current revision {r}",
                    [op.id],
                )
            )
    # A compaction's header revision is the member's revision when it answered, not the
    # one it was applied at (etcd sets it to kv.Rev() after the apply), so two
    # compactions are ordered by real time only.
    for i, (_ra, a) in enumerate(compacts):
        for _rb, b in compacts[i + 1 :]:
            ca, cb = int(a.input["revision"]), int(b.input["revision"])
            if (
                ca == cb
                or (ca > cb and a.effective_return < b.call)
                or (cb > ca and b.effective_return < a.call)
            ):
                out.append(
                    Anomaly(
                        "non-linearizable",
                        f"compactions {a.id} (at {ca}) and {b.id} (at {cb}) both succeeded in this order",
                        [a.id, b.id],
                    )
                )
    if compacts:
        for r, lst in observers.items():
            for op in lst:
                rr = int(op.input.get("revision") or 0) if op.input.get("kind") == "range" else 0
                if rr <= 0:
                    continue
                for rc, cop in compacts:
                    c = int(cop.input["revision"])
                    if c > rr and (rc < r or cop.effective_return < op.call):
                        out.append(
                            Anomaly(
                                "non-linearizable",
                                f"op {op.id} read revision {rr} after op {cop.id} compacted at {c}: it must have failed 'compacted'",
                                [op.id, cop.id],
                            )
                        )
                        break
    for op in errors:
        if op.output.get("error") != "compacted":
            continue
        kind = op.input.get("kind")
        if kind not in ("range", "compact"):
            continue
        rr = int(op.input.get("revision") or 0)
        ok = any(
            c.id != op.id
            and (int(c.input["revision"]) > rr or (kind == "compact" and int(c.input["revision"]) >= rr))
            and c.call < op.effective_return
            for c in any_compacts
        )
        if not ok:
            out.append(
                Anomaly(
                    "non-linearizable",
                    f"op {op.id} failed 'compacted' at revision {rr} but nothing compacted past it before",
                    [op.id],
                )
            )
    return out
