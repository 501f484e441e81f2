"""What may happen in etcd with no operation of the history to show for it, as
operations of unknown outcome: a lease expiring, a compaction a fault made.

Lease expiry: traffic is expected to use TTLs longer than the run, so leases never
expire. A lease whose TTL is shorter than the history is given a synthetic revoke with
unknown outcome, callable any time after its grant was called, so an expiry (keys
deleted at one new revision, later puts failing ``lease_not_found``) is accepted
whenever the history needs one, and never required.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.history import FaultRecord
from models.operation import Operation

NS = 1_000_000_000


def lease_expiries(ops: Sequence[Operation]) -> list[Operation]:
    """Synthetic unknown revokes for leases whose TTL may run out within the history."""
    if not ops:
        return []
    end = max(max(op.call, op.ret or 0) for op in ops)
    out: list[Operation] = []
    for op in ops:
        if op.input.get("kind") != "lease_grant" or op.status == "fail":
            continue
        ttl = op.input.get("ttl")
        if ttl is None or int(ttl) * NS < end - op.call:
            out.append(
                Operation(
                    id=-1 - len(out),
                    client=-1,
                    call=op.call,
                    ret=None,
                    input={"kind": "lease_revoke", "id": op.input["id"], "expiry": True},
                    status="unknown",
                )
            )
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
