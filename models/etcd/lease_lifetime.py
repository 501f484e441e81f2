"""How long a lease may live: the refreshes that bound its expiry from below, and the
upper bound past which a key still attached to it is an anomaly (``lease-overlived``).

etcd's leader sets a lease's expiry to TTL after it applies the grant, and again after
each keepalive it answers (both before the answer goes out, the keepalive only once the
leader applied everything committed before it), then revokes expired leases through
raft. So a lease expires no sooner than TTL after the last acknowledged refresh was
called (the lower bound the synthetic expiry uses), and is gone soon after TTL past the
last refresh returned, unless something held the leader back. Three things can, and each
makes the upper bound stand aside rather than guess:

* a new leader restarts every lease's clock: only a linearizable read answered in the
  grant's own raft term (so under the same leader, which confirmed it with a quorum)
  is held to the bound;
* a fault can stall the leader or its quorum (a pause, a partition, lost or delayed
  peer traffic, a defragmentation, a crash): the clock restarts at the fault's end, and
  a fault still going on when the read was sent rules the read out;
* a keepalive of unknown outcome may have refreshed the lease at any time: that lease
  has no upper bound.

``SLACK_S`` covers the lessor's half-second expiry scan, its 3 s retry of a revoke that
did not go through, and the revoke's own round through raft on a loaded machine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from models.anomaly import Anomaly
from models.history import FaultRecord, OpRecord
from models.operation import Operation

NS = 1_000_000_000
SLACK_S = 8.0


@dataclass
class Lease:
    grant: Operation
    ttl: int | None
    refreshed_call: int
    refreshed_ret: int | None
    unbounded: bool = False


def ttl_of(grant: Operation | OpRecord) -> int | None:
    """The TTL etcd counts: the larger of the one asked for and the one granted (etcd
    raises a TTL below its minimum, never lowers one)."""
    asked = grant.input.get("ttl")
    granted = grant.output.get("ttl") if grant.status == "ok" and isinstance(grant.output, dict) else None
    known = [int(t) for t in (asked, granted) if isinstance(t, int) and not isinstance(t, bool)]
    return max(known) if known else None


def _error(op: Operation) -> bool:
    return isinstance(op.output, dict) and bool(op.output.get("error"))


def leases_of_history(ops: Iterable[Operation]) -> dict[int, Lease]:
    """Every lease granted once, with its last acknowledged refresh."""
    grants: dict[int, list[Operation]] = defaultdict(list)
    keepalives: dict[int, list[Operation]] = defaultdict(list)
    for op in ops:
        kind = op.input.get("kind")
        if kind == "lease_grant" and op.status != "fail":
            grants[int(op.input["id"])].append(op)
        elif kind == "lease_keepalive" and op.status != "fail":
            keepalives[int(op.input["id"])].append(op)
    out: dict[int, Lease] = {}
    for lease, lst in grants.items():
        if len(lst) != 1:
            continue
        g = lst[0]
        ok = g.status == "ok" and not _error(g)
        state = Lease(g, ttl_of(g), g.call, g.ret if ok else None, unbounded=not ok)
        for k in keepalives.get(lease, ()):
            if k.status == "unknown":
                state.unbounded = True
            elif not _error(k):
                state.refreshed_call = max(state.refreshed_call, k.call)
                if state.refreshed_ret is not None and k.ret is not None:
                    state.refreshed_ret = max(state.refreshed_ret, k.ret)
        out[lease] = state
    return out


def check_lease_lifetimes(ops: Sequence[Operation], faults: Sequence[FaultRecord]) -> list[Anomaly]:
    """A linearizable read, under the grant's leader, long after the lease must have
    expired, that still returns a key attached to it (or a TimeToLive that finds it)."""
    leases = {
        k: v for k, v in leases_of_history(ops).items() if not v.unbounded and v.ttl and raft_term(v.grant)
    }
    if not leases:
        return []
    windows = _fault_windows(faults)
    out: list[Anomaly] = []
    reported: set[int] = set()
    for op in ops:
        for lease, key in _leased_keys(op):
            state = leases.get(lease)
            if state is None or lease in reported or raft_term(op) != raft_term(state.grant):
                continue
            held = _held_until(windows, op.call)
            assert state.refreshed_ret is not None and state.ttl is not None
            deadline = max(state.refreshed_ret + state.ttl * NS, held)
            if op.call > deadline + SLACK_S * NS:
                reported.add(lease)
                out.append(_overlived(op, lease, key, state, deadline))
    return out


def raft_term(op: Operation | OpRecord) -> int:
    """The raft term of the member that answered (0: none recorded)."""
    header = op.output.get("header") if isinstance(op.output, dict) else None
    return int((header or {}).get("raft_term") or 0)


def _leased_keys(op: Operation) -> list[tuple[int, str]]:
    """(lease, key) of every kv a linearizable read of the current state returned, and
    (lease, "") for a TimeToLive that found the lease."""
    inp = op.input
    if inp.get("kind") == "lease_timetolive" and op.status == "ok" and isinstance(op.output, dict):
        return [] if op.output.get("error") else [(int(inp["id"]), "")]
    if (
        op.status != "ok"
        or inp.get("kind") != "range"
        or inp.get("serializable")
        or inp.get("revision")
        or not isinstance(op.output, dict)
        or op.output.get("error")
    ):
        return []
    return [(int(kv["lease"]), str(kv["key"])) for kv in op.output.get("kvs") or () if kv.get("lease")]


def _fault_windows(faults: Sequence[FaultRecord]) -> list[tuple[int, int | None]]:
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    for f in faults:
        (starts if f.phase == "start" else ends)[f.id] = f.time
    return [(t, ends.get(i)) for i, t in starts.items()]


def _held_until(windows: list[tuple[int, int | None]], t: int) -> int:
    """When the last fault that began before ``t`` ended (one still going on: forever)."""
    held = 0
    for start, end in windows:
        if start < t:
            held = max(held, 1 << 62 if end is None or end >= t else end)
    return held


def _overlived(op: Operation, lease: int, key: str, state: Lease, deadline: int) -> Anomaly:
    late = (op.call - deadline) / NS
    seen = f"read {key} still attached to lease {lease}" if key else f"found lease {lease} still held"
    return Anomaly(
        "lease-overlived",
        f"op {op.id} {seen} {late:.1f} s after the lease "
        f"must have expired (TTL {state.ttl} s, last refresh answered at "
        f"{(state.refreshed_ret or 0) / NS:.3f} s, no fault or leader change since)",
        [state.grant.id, op.id],
        details={"lease": lease, "key": key, "ttl": state.ttl, "late_s": round(late, 3)},
    )
