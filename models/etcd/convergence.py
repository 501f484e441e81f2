"""Members must end in the same state: a divergence is a violation on its own.

Replicas apply the same raft log, so (a) HashKV at one revision (and one compact
revision) must give the same hash on every member, whenever it was sampled; (b) once
traffic has stopped, a member's revision follows from its applied raft index, the same
on every member: two members at the same index must be at the same revision, and one
further along the log is never at a lower revision (etcd-io/etcd#13766: the member that
lost a write is one revision behind at an equal applied index). A member that is merely
behind is not diverged: a write of unknown outcome may be applied at any time, even
after traffic stopped. Status samples taken while traffic runs race with applies and are
not compared on revision. Each failure is a ``divergence`` anomaly naming the members.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from models.anomaly import Anomaly
from models.history import StatusRecord


def check_convergence(
    statuses: Sequence[StatusRecord],
    *,
    quiescent_after: int | None = None,
    empty_at: Callable[[int], bool] | None = None,
) -> list[Anomaly]:
    """``quiescent_after``: the time traffic stopped (last return); only samples taken
    after it are compared on revision. None: compare each member's last sample.

    ``empty_at(r)``: no key is alive at revision ``r`` (from the replay). etcd's HashKV
    then hashes every revision still on disk, compacted ones included (``hashByRev``
    filters old revisions by what a compaction at ``r`` would keep, and skips the
    filter when that is nothing), so members whose compactions left different
    leftovers give different hashes of the same data: such samples are not compared.
    """
    out: list[Anomaly] = []
    hashes: dict[tuple[int, int], dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for s in statuses:
        if s.hash is not None and s.hash_revision is not None:
            if empty_at is not None and empty_at(s.hash_revision):
                continue
            hashes[(s.hash_revision, s.compact_revision or 0)][s.hash].append(s.member)
    differ = [
        (rev, compact, by_hash) for (rev, compact), by_hash in sorted(hashes.items()) if len(by_hash) > 1
    ]
    if differ:
        # One anomaly, at the lowest revision sampled with different hashes; the highest
        # revision below it where every member agreed bounds the first diverging one
        # (the runner bisects HashKV between members to make the two adjacent).
        rev, compact, by_hash = differ[0]
        groups = {str(h): sorted(set(m)) for h, m in by_hash.items()}
        members = sorted({m for ms in by_hash.values() for m in ms})
        agreed = [
            r
            for (r, _c), bh in hashes.items()
            if r < rev and len(bh) == 1 and set(members) <= {m for ms in bh.values() for m in ms}
        ]
        details: dict[str, object] = {"hash_revision": rev, "compact_revision": compact, "hashes": groups}
        msg = f"HashKV at revision {rev} differs between members: {groups}"
        if agreed:
            last_equal = max(agreed)
            details["last_equal_revision"] = last_equal
            if last_equal == rev - 1:
                details["first_diverging_revision"] = rev
                msg += f"; equal at {last_equal}: the members first diverge at revision {rev}"
            else:
                msg += f"; equal at {last_equal}: they first diverge between {last_equal + 1} and {rev}"
        if len(differ) > 1:
            details["differing_samples"] = len(differ)
        out.append(Anomaly("divergence", msg, members=members, details=details))
    out.extend(_revision_splits(_stable_final(statuses, quiescent_after)))
    return out


def _stable_final(statuses: Sequence[StatusRecord], quiescent_after: int | None) -> dict[str, StatusRecord]:
    """Per member, its last Status sample taken after traffic stopped, when the sample
    before it (also after) shows the same applied index and revision.

    Status reads the revision before the applied index, and a write of unknown outcome
    (or a lease expiry) may still be applied after the last response: a single sample
    can pair a revision with a later index. Two equal samples in a row mean nothing was
    applied between them, so the pair is exact. A sample whose HashKV failed (e.g.
    compacted on that member) still carries the Status it got first.
    """
    by_member: dict[str, list[StatusRecord]] = defaultdict(list)
    for s in statuses:
        if s.revision is None or s.raft_applied_index is None:
            continue
        if quiescent_after is not None and s.time < quiescent_after:
            continue
        by_member[s.member].append(s)
    stable: dict[str, StatusRecord] = {}
    for member, samples in by_member.items():
        samples.sort(key=lambda s: s.time)
        if len(samples) >= 2:
            a, b = samples[-2], samples[-1]
            if (a.revision, a.raft_applied_index) == (b.revision, b.raft_applied_index):
                stable[member] = b
    return stable


def _revision_splits(last: dict[str, StatusRecord]) -> list[Anomaly]:
    """Members apply the same log, so a revision is a function of the applied index: at
    an equal index members must be at the same revision, and a member further along the
    log is never at a lower revision (etcd-io/etcd#13766: the member that lost a write is
    behind at an equal applied index). A member that is only behind is not diverged."""
    out: list[Anomaly] = []
    by_index: dict[int, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for m, s in last.items():
        assert s.raft_applied_index is not None and s.revision is not None
        by_index[s.raft_applied_index][s.revision].append(m)
    for idx, by_rev in sorted(by_index.items()):
        if len(by_rev) > 1:
            out.append(
                Anomaly(
                    "divergence",
                    f"at applied index {idx} members are at different revisions: "
                    + ", ".join(f"{r}: {sorted(ms)}" for r, ms in sorted(by_rev.items())),
                    members=sorted(m for ms in by_rev.values() for m in ms),
                    details={"applied_index": idx, "revisions": {str(r): ms for r, ms in by_rev.items()}},
                )
            )
    points = sorted((idx, max(by_rev), min(by_rev)) for idx, by_rev in by_index.items())
    for i, (idx, high, _) in enumerate(points):
        later = [(j, low) for j, _, low in points[i + 1 :] if low < high]
        if later:
            j, low = later[0]
            behind = sorted(by_index[j][low])
            ahead = sorted(by_index[idx][high])
            out.append(
                Anomaly(
                    "divergence",
                    f"{', '.join(behind)} applied more of the log (index {j}) than {', '.join(ahead)} "
                    f"(index {idx}) but is at a lower revision ({low} < {high})",
                    members=behind + ahead,
                    details={"revisions": {str(high): ahead, str(low): behind}, "applied_index": j},
                )
            )
            break
    return out
