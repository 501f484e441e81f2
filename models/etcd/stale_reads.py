"""Serializable (stale) reads: answered by one member from its own store, not linearizable.

etcd only promises that such a read shows the member's state at some revision that was
really committed: the response must be exactly the store at the revision in its own
header (the member answers from one consistent snapshot), and that revision cannot be
newer than what was committed by the time the read returned (a member never holds a
revision the cluster had not committed). How stale it may be is not bounded, so nothing
is checked from below. Each failure is a ``stale-read`` anomaly.

"Committed by the time the read returned" uses the earliest commit time of each
revision from the revision-guided checker (``lo[R]`` > return: the write creating ``R``
was not even called yet). A header beyond every revision the history explains is only
allowed while enough writes with unknown outcome were already called to create it.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.anomaly import Anomaly
from models.etcd.model import describe
from models.etcd.requests import apply, canonical, header_revision, is_serializable_read
from models.etcd.state import Store
from models.operation import Operation


def serializable_reads(ops: Sequence[Operation]) -> list[Operation]:
    return [
        op
        for op in ops
        if op.status == "ok"
        and is_serializable_read(op.input)
        and isinstance(op.output, dict)
        and not op.output.get("error")
    ]


def check_stale_reads(
    ops: Sequence[Operation],
    store: Store,
    lo: Sequence[int],
    max_revision: int,
    unknown_calls: Sequence[int] = (),
) -> list[Anomaly]:
    out: list[Anomaly] = []
    for op in serializable_reads(ops):
        rev = header_revision(op.output)
        if rev is None or rev < 1:
            out.append(
                Anomaly(
                    "stale-read", f"op {op.id}: serializable read without a valid header revision", [op.id]
                )
            )
            continue
        ret = op.effective_return
        if rev > max_revision:
            possible = sum(1 for c in unknown_calls if c < ret)
            if rev - max_revision > possible:
                out.append(
                    Anomaly(
                        "stale-read",
                        f"op {op.id} read at revision {rev}, beyond every revision committed ({max_revision}) by its return",
                        [op.id],
                        details={"revision": rev},
                    )
                )
            continue
        if rev < len(lo) and lo[rev] > ret:
            out.append(
                Anomaly(
                    "stale-read",
                    f"op {op.id} read at revision {rev}, which was not committed before the read returned",
                    [op.id],
                    details={"revision": rev, "returned": ret, "committed_after": lo[rev]},
                )
            )
            continue
        res = apply(store.at(rev), op.input)
        if canonical(op.input, res.output) != canonical(op.input, op.output):
            out.append(
                Anomaly(
                    "stale-read",
                    f"op {op.id}: serializable read does not match the state at its own revision {rev}: "
                    f"observed {describe(op.input, op.output)}, expected {describe(op.input, res.output)}",
                    [op.id],
                    details={"revision": rev, "expected": res.output, "observed": op.output},
                )
            )
    return out
