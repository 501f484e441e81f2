"""What may happen in etcd with no operation of the history to show for it, as
operations of unknown outcome: a lease expiring, a compaction a fault made.

Lease expiry: a lease whose TTL may run out within the history is given a synthetic
revoke with unknown outcome, so an expiry (keys deleted at one new revision, later puts
failing ``lease_not_found``) is accepted whenever the history needs one, and never
required. It is callable only once the TTL has passed since the grant was called: etcd
starts a lease's clock when it applies the grant, after the call, and a new leader only
extends the clocks, so a key that vanishes sooner was not taken by an expiry. (The TTL
counted is the larger of the one asked for and the one granted: etcd raises a TTL below
its minimum, never lowers one.) A keepalive the leader answered renewed the lease after
it was called, so the clock counts from the last one.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.etcd.lease_lifetime import ttl_of
from models.history import FaultRecord, History, OpRecord
from models.operation import Operation

NS = 1_000_000_000


def lease_expiries(ops: Sequence[Operation]) -> list[Operation]:
    """Synthetic unknown revokes for leases whose TTL may run out within the history,
    callable once the TTL has passed since the last acknowledged refresh was called."""
    if not ops:
        return []
    end = max(max(op.call, op.ret or 0) for op in ops)
    refreshed = _refreshes(ops)
    out: list[Operation] = []
    for op in ops:
        if op.input.get("kind") != "lease_grant" or op.status == "fail":
            continue
        ttl = ttl_of(op)
        since = max(op.call, refreshed.get(int(op.input["id"]), 0))
        if ttl is None or since + ttl * NS < end:
            out.append(
                Operation(
                    id=-1 - len(out),
                    client=-1,
                    call=since + (ttl or 0) * NS,
                    ret=None,
                    input={"kind": "lease_revoke", "id": op.input["id"], "expiry": True},
                    status="unknown",
                )
            )
    return out


def _refreshes(ops: Sequence[Operation]) -> dict[int, int]:
    """Per lease, the call of its last acknowledged keepalive: the leader renewed it at
    some time after that, so it cannot have expired within a TTL of it."""
    out: dict[int, int] = {}
    for op in ops:
        if (
            op.input.get("kind") == "lease_keepalive"
            and op.status == "ok"
            and isinstance(op.output, dict)
            and not op.output.get("error")
        ):
            lease = int(op.input["id"])
            out[lease] = max(out.get(lease, 0), op.call)
    return out


def fault_compactions(faults: Sequence[FaultRecord]) -> list[Operation]:
    """The compactions faults made, as operations of unknown outcome: a ``compact``
    fault's ``revision``, or the ``compact_revision`` of any other (a crash timed to a
    compaction).

    The fault compacts through the API without recording an operation; its window's
    start is written with the time before the request went out, so the compaction may
    have taken effect at any time after it (or never, if it failed).
    """
    out: list[Operation] = []
    for f in faults:
        key = "revision" if f.kind == "compact" else "compact_revision"
        rev = f.detail.get(key) if f.phase == "start" else None
        if isinstance(rev, int) and not isinstance(rev, bool) and rev > 0:
            out.append(
                Operation(
                    id=-1_000_000 - len(out),
                    client=-2,
                    call=f.time,
                    ret=None,
                    input={"kind": "compact", "revision": rev, "physical": True},
                    status="unknown",
                )
            )
    return out


def compaction_calls(ops: Sequence[Operation | OpRecord]) -> list[tuple[int, int]]:
    """(revision, call) of every compaction that may have taken effect: acknowledged or
    of unknown outcome."""
    return [
        (int(op.input["revision"]), op.call)
        for op in ops
        if op.input.get("kind") == "compact"
        and op.status != "fail"
        and not (isinstance(op.output, dict) and op.output.get("error"))
    ]


def history_compactions(history: History) -> list[tuple[int, int]]:
    """:func:`compaction_calls` of a history: its operations' and its faults'."""
    return compaction_calls([*history.ops, *fault_compactions(history.faults)])
