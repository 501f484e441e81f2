"""Step 1, claims: which revision each acknowledged operation says it made or saw.

Each acknowledged write (put, delete that deleted, txn whose branch wrote) claims the
revision in its header; two claims on one revision are a ``revision-reused`` anomaly.
Non-writing operations (reads, txns that only read, a revoke of a lease without keys)
*observe* the revision in their header: they ran after that revision and before the
next. Lease grants and compactions only bound time; errors the model predicts are
checked afterwards; writes of unknown outcome may fill the revisions nobody claims.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from models.anomaly import Anomaly
from models.etcd.model import describe
from models.etcd.requests import WRITE_KINDS, header_revision, is_serializable_read, writes_of
from models.etcd.schema import KINDS
from models.operation import Operation


@dataclass
class Claims:
    by_id: dict[int, Operation]
    #: revision -> the acknowledged write that created it
    fixed: dict[int, Operation] = field(default_factory=dict)
    #: revision -> the reads (and read-only txns) that saw it
    observers: dict[int, list[Operation]] = field(default_factory=lambda: defaultdict(list))
    #: revision -> acknowledged lease revokes answered at it (they may or may not have deleted keys)
    revokes: dict[int, list[Operation]] = field(default_factory=lambda: defaultdict(list))
    #: writes of unknown outcome, the candidates for unclaimed revisions
    unknown: list[Operation] = field(default_factory=list)
    #: acknowledged operations answered with an error the model predicts
    errors: list[Operation] = field(default_factory=list)
    #: (header revision, op) of lease grants and compactions: they only bound time
    time_only: list[tuple[int, Operation]] = field(default_factory=list)
    max_revision: int = 1
    #: the highest revision a response header (not a watch event) reported
    highest_header: int = 1
    ignored: int = 0
    base: int = 1

    def creators(self) -> int:
        """How many revisions all writes together can create."""
        return len(self.fixed) + len(self.unknown) + sum(len(v) for v in self.revokes.values())


#: Acknowledged kinds not placed at a revision: a defragment answers from one member, and
#: a keepalive with the header of the member asked, which may lag (checked in leases).
UNPLACED = frozenset({"defragment", "lease_keepalive", "lease_timetolive"})


def claims_revision(op: Operation) -> bool:
    """An acknowledged operation whose header revision places it in the order (an
    error response is placed by its time only)."""
    return op.status == "ok" and op.input.get("kind") not in UNPLACED and not is_serializable_read(op.input)


def claim(
    ops: Sequence[Operation], extra_revisions: Iterable[int] = (), base: int = 1
) -> tuple[Claims, list[Anomaly]]:
    """The claims of ``ops``, and the anomalies no order can explain (a revision claimed
    twice, below 2, a header missing, a revision beyond what the writes can reach).
    ``base``: the revision the operations start from (a window of a streamed history)."""
    c = Claims({op.id: op for op in ops}, max_revision=base, base=base)
    anomalies: list[Anomaly] = []
    for op in ops:
        kind = op.input.get("kind")
        if kind not in KINDS:
            c.ignored += 1
        elif op.status == "unknown":
            if kind in WRITE_KINDS:
                c.unknown.append(op)
        elif claims_revision(op):
            anomalies.extend(_claim_one(c, op))
    c.highest_header = c.max_revision
    for r in extra_revisions:
        c.max_revision = max(c.max_revision, r)
    if c.max_revision > c.base + c.creators():
        anomalies.append(_unreachable(c))
    return c, anomalies


def _claim_one(c: Claims, op: Operation) -> list[Anomaly]:
    inp, out = op.input, op.output
    if isinstance(out, dict) and out.get("error"):
        c.errors.append(op)
        return []
    rev = header_revision(out)
    if rev is None:
        return [Anomaly("non-linearizable", f"op {op.id}: ok response without a header revision", [op.id])]
    c.max_revision = max(c.max_revision, rev)
    if rev < 1:
        return [_mismatch(op, rev, f"op {op.id} reports revision {rev} (< 1)")]
    w = writes_of(inp, out)
    if w:
        if rev < 2:
            return [_mismatch(op, rev, f"op {op.id} wrote at revision {rev} (< 2)")]
        if rev in c.fixed:
            other = c.fixed[rev]
            return [
                Anomaly(
                    "revision-reused",
                    f"ops {other.id} and {op.id} both report creating revision {rev}: "
                    f"{describe(other.input, other.output)} / {describe(inp, out)}",
                    [other.id, op.id],
                    details={"revision": rev},
                )
            ]
        c.fixed[rev] = op
    elif w is None:
        c.revokes[rev].append(op)
    elif inp.get("kind") in ("lease_grant", "compact"):
        c.time_only.append((rev, op))
    else:
        c.observers[rev].append(op)
    return []


def _mismatch(op: Operation, rev: int, message: str) -> Anomaly:
    return Anomaly("revision-mismatch", message, [op.id], details={"revision": rev})


def _unreachable(c: Claims) -> Anomaly:
    """Every revision from 2 up needs a write of its own: a revision beyond what all the
    writes together could reach is impossible (and would not fit in memory)."""
    src = "a response header" if c.highest_header == c.max_revision else "a watch event or serializable read"
    n = c.creators()
    return Anomaly(
        "non-linearizable",
        f"revision {c.max_revision} was observed ({src}), but the history's {n} writes can create "
        f"revisions up to {c.base + n} only",
        details={"revision": c.max_revision, "writes": n},
    )
