"""Members must end in the same state: a divergence is a violation on its own.

Replicas apply the same raft log, so (a) HashKV at one revision (and one compact
revision) must give the same hash on every member, whenever it was sampled; (b) once
traffic has stopped, every member's last sample must show the same revision; (c) in
those final samples, two members at the same applied raft index must be at the same
revision (etcd-io/etcd#13766: the member that lost a write is one revision behind at an
equal applied index). Status samples taken while traffic runs race with applies and are
not compared on revision. Each failure is a ``divergence`` anomaly naming the members.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from harness.history.records import StatusRecord
from models.anomaly import Anomaly


def check_convergence(
    statuses: Sequence[StatusRecord], *, quiescent_after: int | None = None
) -> list[Anomaly]:
    """``quiescent_after``: the time traffic stopped (last return); only samples taken
    after it are compared on revision. None: compare each member's last sample."""
    out: list[Anomaly] = []
    hashes: dict[tuple[int, int], dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for s in statuses:
        if s.hash is not None and s.hash_revision is not None:
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
    # A sample whose HashKV failed (e.g. compacted on that member) still carries the
    # Status it got first: its revision and applied index count.
    last: dict[str, StatusRecord] = {}
    for s in statuses:
        if s.revision is None:
            continue
        if quiescent_after is not None and s.time < quiescent_after:
            continue
        if s.member not in last or s.time >= last[s.member].time:
            last[s.member] = s
    revs = {m: s.revision for m, s in last.items()}
    if len(set(revs.values())) > 1:
        out.append(
            Anomaly(
                "divergence",
                f"members end at different revisions: {dict(sorted(revs.items()))}",
                members=sorted(revs),
                details={"revisions": revs},
            )
        )
    by_index: dict[int, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for m, s in last.items():
        if s.raft_applied_index is not None and s.revision is not None:
            by_index[s.raft_applied_index][s.revision].append(m)
    for idx, by_rev in by_index.items():
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
    return out
