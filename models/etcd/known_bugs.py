"""Known etcd bugs: which anomalies a real, already-reported etcd bug explains.

A run against an old etcd build finds the bugs that build carries; those findings are
correct and stay violations. Naming the bug next to them saves a developer the hour it
takes to recognise a fixed issue, and lets nightly runs on old versions tell a known
bug (``--allow-known-bugs``) from something new. A signature matches the shape of the
anomaly and the affected versions, never the scenario, so a new bug with the same
symptom on a fixed version is still reported as unexplained.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from models.anomaly import Anomaly
from models.etcd.lease_lifetime import NS, raft_term, ttl_of
from models.etcd.synthetic import history_compactions
from models.history import FaultRecord, History, OpRecord

Version = tuple[int, int, int]


def parse_version(text: str) -> Version | None:
    parts = text.strip().lstrip("v").split("-")[0].split(".")
    try:
        nums = [int(p) for p in parts[:3]]
    except ValueError:
        return None
    return (nums + [0, 0, 0])[0], (nums + [0, 0, 0])[1], (nums + [0, 0, 0])[2]


@dataclass(frozen=True)
class KnownBug:
    id: str
    title: str
    #: Affected versions as [first, fixed) ranges.
    affected: tuple[tuple[Version, Version], ...]
    fixed_in: str
    matches: Callable[[Anomaly, History, Sequence[Anomaly]], bool]

    def affects(self, versions: Sequence[str]) -> bool:
        for v in versions:
            parsed = parse_version(v)
            if parsed is not None and any(lo <= parsed < hi for lo, hi in self.affected):
                return True
        return False

    @property
    def url(self) -> str:
        repo, num = self.id.split("#")
        return f"https://github.com/{repo}/issues/{num}"


def _compactions_at(history: History, revision: int, before: int) -> bool:
    """A compaction to ``revision`` called before ``before``: an operation of the history,
    or one a fault made (a compact fault, a crash timed to a compaction)."""
    return any(rev == revision and call <= before for rev, call in history_compactions(history))


def _tombstone_at_compaction(a: Anomaly, history: History, _all: Sequence[Anomaly]) -> bool:
    """A watch that starts at the compaction revision misses the DELETE made at exactly
    that revision: the compaction dropped the tombstone from the backend. The watch then
    starts later (``watch-bad-start``) or, when that revision also wrote other keys, gets
    the revision without the deletion (``watch-gap``)."""
    if a.kind not in ("watch-bad-start", "watch-gap") or not a.details.get("delete"):
        return False
    r = a.details.get("revision")
    if r is None or a.details.get("start") != r:
        return False
    req = history.watch_request(a.watch)
    t = req.time if req is not None else None
    return t is not None and _compactions_at(history, int(r), t)


def _progress_ahead(a: Anomaly, history: History, _all: Sequence[Anomaly]) -> bool:
    return a.kind == "watch-progress"


#: Faults that SIGKILL a member: a plain kill, one timed to a request, one during a
#: replacement's catch-up.
_KILLS = frozenset({"kill", "crash-during", "replace-kill"})


def _plain_kill(f: FaultRecord) -> bool:
    """A SIGKILL not timed to a defragmentation (after one, etcd-io/etcd#14685 explains
    what follows)."""
    return f.kind in _KILLS and not (f.kind == "crash-during" and f.detail.get("request") == "defrag")


def _lost_after_kill(a: Anomaly, history: History, anomalies: Sequence[Anomaly]) -> bool:
    """The member that lost a write answers one revision low from then on: its later
    writes reuse revisions, its reads look non-linearizable, its HashKV differs. All of
    that is this bug only where a killed member was named as having lost a write."""
    if not _inconsistency(a, history, anomalies):
        return False
    if not any(_plain_kill(f) for f in history.faults):
        return False
    return any(x.kind == "lost-write" for x in anomalies)


#: What a member that lost, renumbered or re-applied writes shows.
_INCONSISTENT = ("lost-write", "divergence", "revision-reused", "non-linearizable")


def _inconsistent_members(anomalies: Sequence[Anomaly]) -> set[str]:
    """Members shown to hold other data than the rest: named by a lost write, or outside
    the largest group of equal hashes."""
    out: set[str] = set()
    for x in anomalies:
        if x.kind == "lost-write":
            out.update(x.members)
        elif x.kind == "divergence" and isinstance(x.details.get("hashes"), dict):
            groups = sorted(x.details["hashes"].values(), key=len, reverse=True)
            for g in groups[1:] if len(groups) > 1 and len(groups[0]) > len(groups[1]) else groups:
                out.update(g)
    return out


def _inconsistency(a: Anomaly, history: History, anomalies: Sequence[Anomaly]) -> bool:
    """An anomaly of a member with inconsistent data, or a watch served by one: its
    events come from that member's wrong history."""
    if a.kind in _INCONSISTENT:
        return True
    if not a.kind.startswith("watch-") or a.watch is None:
        return False
    req = history.watch_request(a.watch)
    return req is not None and req.member is not None and req.member in _inconsistent_members(anomalies)


def _crash_around_defrag(a: Anomaly, history: History, anomalies: Sequence[Anomaly]) -> bool:
    """A member killed while, or just after, it defragmented restarts with a backend
    whose consistent index does not match its data: it re-applies or skips entries, and
    its revisions shift against the acknowledged ones (or against the other members)."""
    if not _inconsistency(a, history, anomalies):
        return False
    return any(
        f.kind == "crash-during" and f.phase == "start" and f.detail.get("request") == "defrag"
        for f in history.faults
    )


def _crash_at_quiet_compaction(a: Anomaly, history: History, anomalies: Sequence[Anomaly]) -> bool:
    """A member killed after its compaction had deleted the head revision (a tombstone)
    but before it persisted that the compaction finished restarts one or more revisions
    low: it re-uses revisions the others gave to later writes, and its data shifts
    against theirs. Only after a crash timed to a compaction in a lull (the traffic held
    still, so no write of its own kept the revision up, and nothing was in flight to be
    lost on a kill, etcd-io/etcd#13766), on a member named as inconsistent where one is."""
    if not _inconsistency(a, history, anomalies):
        return False
    named = {_member_name(history, url) for url in _inconsistent_members(anomalies)}
    return any(
        f.kind == "crash-during"
        and f.phase == "start"
        and f.detail.get("request") == "compact"
        and f.detail.get("quiet")
        and (not named or set(f.targets) & named)
        for f in history.faults
    )


#: Faults that cut a member off from its peers while its clients stay connected.
_CUT_OFF = frozenset({"partition", "partition-snapshot", "loss"})


def _member_name(history: History, url: str | None) -> str | None:
    members = (history.header.cluster or {}).get("members") or []
    return next((m.get("name") for m in members if m.get("client_url") == url), None)


def _replayed_after_restore(a: Anomaly, history: History, _all: Sequence[Anomaly]) -> bool:
    """A member cut off from its peers, far enough behind to be sent a snapshot, restores
    its store from it and moves its synced watchers back to the revision each had when
    it last caught up: open watches send events they already sent (travel back in
    time). Only on a watch that was open on such a member when the fault began."""
    if a.kind not in ("watch-duplicate", "watch-reorder") or a.watch is None:
        return False
    req = history.watch_request(a.watch)
    name = _member_name(history, req.member) if req is not None else None
    if req is None or name is None:
        return False
    return any(
        f.kind in _CUT_OFF and f.phase == "start" and f.time > req.time and name in f.targets
        for f in history.faults
    )


_PAUSES = frozenset({"pause", "pause-loss"})


def _paused_during(history: History, rec: OpRecord) -> bool:
    """A pause fault on the member that answered ``rec`` was on while it was called or
    answered."""
    name = _member_name(history, rec.member)
    starts = {f.id: f for f in history.faults if f.phase == "start" and f.kind in _PAUSES}
    ends = {f.id: f.time for f in history.faults if f.phase == "end" and f.id in starts}
    ret = rec.ret if rec.ret is not None else rec.call
    return any(
        name in f.targets and f.time <= ret and ends.get(i, ret) >= rec.call for i, f in starts.items()
    )


def _stale_read_after_pause(a: Anomaly, history: History, _all: Sequence[Anomaly]) -> bool:
    """A leader frozen while the others elected a new one answers, once thawed, a
    linearizable read from a read index of its old term (the read index raced the
    leader change): the read misses a write the new leader had acknowledged before it
    was called, and its header carries the older raft term."""
    if a.kind != "non-linearizable" or len(a.ops) != 2:
        return False
    recs = {r.id: r for r in history.ops if r.id in a.ops}
    for rec in recs.values():
        if rec.input.get("kind") != "range" or rec.input.get("serializable"):
            continue
        newer = [o for o in recs.values() if o is not rec and raft_term(o) > raft_term(rec) > 0]
        if newer and _paused_during(history, rec):
            return True
    return False


def _revoked_by_thawed_leader(a: Anomaly, history: History, _all: Sequence[Anomaly]) -> bool:
    """A leader frozen past a lease's TTL (counted from the last refresh answered before
    the freeze) still takes itself for the leader once thawed: its lessor revokes the
    lease, and the revoke, forwarded to the new leader, commits, though the new leader
    had renewed it. Later requests find the lease gone too early."""
    pauses = _pause_windows(history)
    if a.kind != "non-linearizable" or not pauses:
        return False
    rev = a.details.get("revision")
    ids = set(a.ops)
    gone: list[tuple[int, int | None]] = [
        (int(r.input.get("id") or r.input.get("lease") or 0), r.ret)
        for r in history.ops
        if r.id in ids and _not_found(r)
    ]
    refreshes = _refreshes(history)
    if not gone and isinstance(rev, int):
        # No lease_not_found among the ops named (a read found a leased key gone, or
        # none is named): the keys watches saw deleted early up to that revision.
        gone = _leases_revoked_early(history, rev, refreshes)
    for lease, seen in gone:
        for start, end in pauses:
            if seen is None or seen < end:
                continue
            before = _refreshed_before(refreshes, lease, start)
            if before is not None and before <= end + NS // 2:
                return True
    return False


def _leases_revoked_early(
    history: History, rev: int, refreshes: dict[int, _Refreshes]
) -> list[tuple[int, int | None]]:
    """(lease, when seen) of keys watches saw deleted, at or before ``rev`` (where no
    write fits: the search fails there or soon after), sooner than a TTL after the last
    acknowledged refresh of the lease they were under (each key's lease as watches last
    showed it)."""
    out: list[tuple[int, int | None]] = []
    last: dict[str, tuple[int, int]] = {}
    bound = _expiry_lower_bounds(refreshes)
    for w in sorted((w for w in history.watches if w.events), key=lambda w: w.time):
        for e in w.events:
            kv = e.get("kv") or {}
            key, mod = str(kv.get("key")), int(kv.get("mod_revision") or 0)
            if e.get("type") == "PUT" and mod < rev:
                last[key] = (mod, int(kv.get("lease") or 0))
            elif e.get("type") == "DELETE" and mod <= rev and last.get(key, (mod, 0))[0] < mod:
                lease = last[key][1] if key in last else 0
                if lease and w.time < bound.get(lease, 0):
                    out.append((lease, w.time))
    return out


def _expiry_lower_bounds(refreshes: dict[int, _Refreshes]) -> dict[int, int]:
    """Per lease, TTL (of an acknowledged grant) after the call of its last acknowledged
    grant or keepalive."""
    out: dict[int, int] = {}
    for lease, r in refreshes.items():
        if r.acked_ttl and r.times:
            out[lease] = max(c for c, _ in r.times) + r.acked_ttl * NS
    return out


@dataclass
class _Refreshes:
    """One lease's TTL (of its first grant, and of one acknowledged) and the (call,
    return) of each of its acknowledged grants and keepalives."""

    granted: bool = False
    ttl: int | None = None
    acked_ttl: int | None = None
    times: list[tuple[int, int | None]] = field(default_factory=list)


def _refreshes(history: History) -> dict[int, _Refreshes]:
    out: dict[int, _Refreshes] = {}
    for r in history.ops:
        kind = r.input.get("kind")
        if kind not in ("lease_grant", "lease_keepalive"):
            continue
        lease = out.setdefault(int(r.input.get("id") or 0), _Refreshes())
        if kind == "lease_grant" and not lease.granted:
            lease.granted, lease.ttl = True, ttl_of(r)
        if r.status != "ok" or _not_found(r):
            continue
        lease.times.append((r.call, r.ret))
        if kind == "lease_grant":
            lease.acked_ttl = ttl_of(r) or lease.acked_ttl
    return out


def _not_found(rec: OpRecord) -> bool:
    return isinstance(rec.output, dict) and rec.output.get("error") == "lease_not_found"


def _pause_windows(history: History) -> list[tuple[int, int]]:
    """(start, end) of each pause; the end is when the thaw was sent where the history
    says (the member may run again before the heal returns: a docker unpause takes tens
    of ms), else when the heal returned."""
    starts = {f.id: f.time for f in history.faults if f.phase == "start" and f.kind in _PAUSES}
    return [
        (starts[f.id], int(f.detail.get("heal_sent", f.time)))
        for f in history.faults
        if f.phase == "end" and f.id in starts
    ]


def _refreshed_before(refreshes: dict[int, _Refreshes], lease: int, t: int) -> int | None:
    """When ``lease`` ran out by the clock of a leader frozen at ``t``: TTL after the last
    grant or keepalive of it answered before ``t`` (None: none was)."""
    r = refreshes.get(lease)
    if r is None or r.ttl is None:
        return None
    answered = [ret for _, ret in r.times if ret is not None and ret < t]
    return max(answered) + r.ttl * NS if answered else None


KNOWN_BUGS: tuple[KnownBug, ...] = (
    # Watch bugs first: their shapes are narrow; a watch anomaly on a member with
    # inconsistent data is the data bug only when no watch bug explains it.
    KnownBug(
        "etcd-io/etcd#15220",
        "a requested watch progress notification carries a revision below events not yet sent",
        (((3, 4, 0), (3, 4, 25)), ((3, 5, 0), (3, 5, 8))),
        "3.4.25, 3.5.8",
        _progress_ahead,
    ),
    KnownBug(
        "etcd-io/etcd#15271",
        "a member restored from a snapshot after a partition re-sends watch events it already sent",
        (((3, 4, 0), (3, 4, 25)), ((3, 5, 0), (3, 5, 8))),
        "3.4.25, 3.5.8",
        _replayed_after_restore,
    ),
    KnownBug(
        "etcd-io/etcd#18089",
        "compaction at a deletion's revision drops the tombstone: a watch from that revision misses the DELETE",
        (((3, 4, 0), (3, 4, 34)), ((3, 5, 0), (3, 5, 16))),
        "3.4.34, 3.5.16",
        _tombstone_at_compaction,
    ),
    KnownBug(
        "etcd-io/etcd#20418",
        "a leader paused while a new one was elected serves a stale linearizable read once it resumes",
        (((3, 4, 20), (3, 4, 42)), ((3, 5, 0), (3, 5, 28))),
        "3.4.42, 3.5.28",
        _stale_read_after_pause,
    ),
    KnownBug(
        "etcd-io/etcd#15247",
        "a leader paused past a lease's TTL revokes the lease once it resumes, though the new leader renewed it",
        (((3, 4, 0), (3, 4, 31)), ((3, 5, 0), (3, 5, 13))),
        "3.4.31, 3.5.13",
        _revoked_by_thawed_leader,
    ),
    KnownBug(
        "etcd-io/etcd#17780",
        "a member killed as its compaction finished, the head revision a deletion, restarts with "
        "its revision gone back and reuses revisions",
        (((3, 4, 0), (3, 4, 32)), ((3, 5, 0), (3, 5, 14))),
        "3.4.32, 3.5.14",
        _crash_at_quiet_compaction,
    ),
    KnownBug(
        "etcd-io/etcd#13766",
        "a member killed while applying under load restarts without an acknowledged write",
        (((3, 5, 0), (3, 5, 3)),),
        "3.5.3",
        _lost_after_kill,
    ),
    KnownBug(
        "etcd-io/etcd#14685",
        "a member killed during or right after a defragmentation restarts with revisions that "
        "differ from the acknowledged ones",
        (((3, 5, 0), (3, 5, 6)),),
        "3.5.6",
        _crash_around_defrag,
    ),
)


def explain_known(anomalies: Sequence[Anomaly], history: History) -> list[KnownBug | None]:
    """For each anomaly, the known bug of the history's etcd versions that explains it."""
    versions = history.header.etcd_versions or []
    candidates = [b for b in KNOWN_BUGS if b.affects(versions)]
    out: list[KnownBug | None] = []
    for a in anomalies:
        out.append(next((b for b in candidates if b.matches(a, history, anomalies)), None))
    return out
