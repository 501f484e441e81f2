"""Step 5b, TimeToLive: what the leader's lessor says about a lease, checked with slack.

etcd's leader answers a TimeToLive from its lessor without a raft round (3.4 and 3.5
alike), so its view may lag what was committed: a grant or revoke another member
acknowledged before the leader applied it, or a new leader still applying its log.
``STALE_S`` bounds that lag. One-sided, like the other lease checks:

* ``lease_not_found`` needs a revoke (or an expiry) called before the answer, or no
  grant acknowledged ``STALE_S`` before the call;
* a lease found ``STALE_S`` after its revoke was acknowledged outlived it;
* every key listed was put under the lease by a request called before the answer;
* a key an acknowledged put attached to the lease ``STALE_S`` before the call is listed,
  unless a request that may have written the key, or revoked the lease, was called since.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from models.anomaly import Anomaly
from models.etcd.model import describe
from models.etcd.requests import delete_ranges, may_write, put_values, sub_requests
from models.etcd.state import in_range
from models.operation import Operation

NS = 1_000_000_000
STALE_S = 2.0
KIND = "lease_timetolive"


def check_lease_lookups(
    ops: Sequence[Operation], grants: dict[int, list[Operation]], revokes: dict[int, list[Operation]]
) -> list[Anomaly]:
    lookups = [op for op in ops if op.input.get("kind") == KIND and op.status == "ok"]
    if not lookups:
        return []
    attached = _attachments(ops)
    writers = [op for op in ops if op.status != "fail" and may_write(op.input)]
    out: list[Anomaly] = []
    for op in lookups:
        lease = int(op.input["id"])
        if _error(op) == "lease_not_found":
            out += _not_found(op, lease, grants.get(lease, []), revokes.get(lease, []))
        elif not _error(op):
            out += _found_after_revoke(op, lease, revokes.get(lease, []))
            if op.input.get("keys"):
                out += _keys(op, lease, attached.get(lease, []), writers, revokes.get(lease, []))
    return out


def _error(op: Operation) -> str | None:
    return op.output.get("error") if isinstance(op.output, dict) else None


def _acked(op: Operation) -> bool:
    return op.status == "ok" and not _error(op) and op.ret is not None


def _not_found(op: Operation, lease: int, grants: list[Operation], revokes: list[Operation]) -> list[Anomaly]:
    settled = [g for g in grants if _acked(g) and (g.ret or 0) + STALE_S * NS < op.call]
    if not settled or any(r.call < op.effective_return for r in revokes):
        return []
    g = min(settled, key=lambda g: g.ret or 0)
    return [
        Anomaly(
            "non-linearizable",
            f"op {op.id} found no lease {lease} though op {g.id} granted it "
            f"{(op.call - (g.ret or 0)) / NS:.1f} s before and nothing revoked it: {describe(op.input, op.output)}",
            [g.id, op.id],
        )
    ]


def _found_after_revoke(op: Operation, lease: int, revokes: list[Operation]) -> list[Anomaly]:
    done = [r for r in revokes if _acked(r)]
    if not done:
        return []
    r = min(done, key=lambda r: r.ret or 0)
    if op.call <= (r.ret or 0) + STALE_S * NS:
        return []
    return [
        Anomaly(
            "non-linearizable",
            f"op {op.id} found lease {lease} {(op.call - (r.ret or 0)) / NS:.1f} s after op {r.id} "
            f"revoked it: {describe(op.input, op.output)}",
            [r.id, op.id],
        )
    ]


def _attachments(ops: Sequence[Operation]) -> dict[int, list[tuple[str, Operation]]]:
    """Per lease, (key, op) of every put that may have attached the key to it."""
    out: dict[int, list[tuple[str, Operation]]] = defaultdict(list)
    for op in ops:
        if op.status == "fail":
            continue
        for key, lease in _leased_puts(op.input):
            out[lease].append((key, op))
    return out


def _leased_puts(req: dict[str, Any]) -> Iterator[tuple[str, int]]:
    kind = req.get("kind")
    if kind == "put" and req.get("lease"):
        yield str(req["key"]), int(req["lease"])
    elif kind == "txn":
        for sub in sub_requests(req):
            yield from _leased_puts(sub)


def _keys(
    op: Operation,
    lease: int,
    attached: list[tuple[str, Operation]],
    writers: list[Operation],
    revokes: list[Operation],
) -> list[Anomaly]:
    listed = set(op.output.get("keys") or ())
    out: list[Anomaly] = []
    for key in sorted(listed):
        if not any(k == key and p.call < op.effective_return for k, p in attached):
            out.append(
                Anomaly(
                    "non-linearizable",
                    f"op {op.id} listed key {key!r} under lease {lease}, which no put attached to it: "
                    f"{describe(op.input, op.output)}",
                    [op.id],
                )
            )
    if any(r.call < op.effective_return for r in revokes):
        return out
    for key, put in attached:
        if key in listed or put.input.get("kind") != "put" or not _acked(put):
            continue
        if (put.ret or 0) + STALE_S * NS >= op.call or _rewritten(key, put, op, writers):
            continue
        out.append(
            Anomaly(
                "non-linearizable",
                f"op {op.id} did not list key {key!r} under lease {lease}, though op {put.id} attached it "
                f"{(op.call - (put.ret or 0)) / NS:.1f} s before and nothing wrote the key since: "
                f"{describe(op.input, op.output)}",
                [put.id, op.id],
            )
        )
    return out


def _rewritten(key: str, put: Operation, lookup: Operation, writers: list[Operation]) -> bool:
    """Whether a request other than ``put`` that may write ``key`` overlaps or follows it
    before ``lookup`` returned (the put itself may have come after it)."""
    for w in writers:
        if w.id == put.id or w.call >= lookup.effective_return:
            continue
        if w.effective_return <= put.call:
            continue
        spans = [(k, None) for k, _ in put_values(w.input)] + delete_ranges(w.input)
        if any(in_range(key, start, end) for start, end in spans):
            return True
    return False
