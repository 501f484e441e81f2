"""Protobuf messages <-> the plain dicts of docs/history-format.md ("Operations by model /
etcd").

Inputs are the history's ``input`` objects; outputs are what an ``ok`` operation records.
Written as straight-line code with plain dict literals because it runs twice per
operation on the traffic hot path. Keys and values are UTF-8 strings; bytes that are not
UTF-8 come back backslash-escaped, so that a value nobody wrote shows up as one instead
of crashing the recording.
"""

from __future__ import annotations

from typing import Any

from harness.client.proto import etcd_pb2 as pb
from harness.client.proto import kv_pb2 as mvccpb
from models.operation import Request


class InvalidOperation(ValueError):
    """An input outside the schema, found before anything was sent."""


def _b(s: str | None) -> bytes:
    return s.encode() if s else b""


def _s(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace")


def header(h: pb.ResponseHeader) -> dict[str, int]:
    return {"revision": h.revision, "member_id": h.member_id, "raft_term": h.raft_term}


def kv(m: mvccpb.KeyValue) -> dict[str, Any]:
    return {
        "key": m.key.decode("utf-8", "backslashreplace"),
        "value": m.value.decode("utf-8", "backslashreplace"),
        "create_revision": m.create_revision,
        "mod_revision": m.mod_revision,
        "version": m.version,
        "lease": m.lease,
    }


# Requests


_SORT_ORDERS = {
    "none": pb.RangeRequest.NONE,
    "ascend": pb.RangeRequest.ASCEND,
    "descend": pb.RangeRequest.DESCEND,
}
_SORT_TARGETS = {
    "key": pb.RangeRequest.KEY,
    "version": pb.RangeRequest.VERSION,
    "create": pb.RangeRequest.CREATE,
    "mod": pb.RangeRequest.MOD,
    "value": pb.RangeRequest.VALUE,
}


def range_request(op: Request) -> pb.RangeRequest:
    return pb.RangeRequest(
        key=_b(op["key"]),
        range_end=_b(op.get("range_end")),
        revision=op.get("revision") or 0,
        limit=op.get("limit") or 0,
        keys_only=bool(op.get("keys_only")),
        count_only=bool(op.get("count_only")),
        serializable=bool(op.get("serializable")),
        sort_order=_SORT_ORDERS[op.get("sort_order") or "none"],
        sort_target=_SORT_TARGETS[op.get("sort_target") or "key"],
        min_mod_revision=op.get("min_mod_revision") or 0,
        max_mod_revision=op.get("max_mod_revision") or 0,
        min_create_revision=op.get("min_create_revision") or 0,
        max_create_revision=op.get("max_create_revision") or 0,
    )


def put_request(op: Request) -> pb.PutRequest:
    return pb.PutRequest(
        key=op["key"].encode(),
        value=op["value"].encode(),
        lease=op.get("lease") or 0,
        prev_kv=bool(op.get("prev_kv")),
        ignore_lease=bool(op.get("ignore_lease")),
    )


def delete_request(op: Request) -> pb.DeleteRangeRequest:
    return pb.DeleteRangeRequest(
        key=_b(op["key"]), range_end=_b(op.get("range_end")), prev_kv=bool(op.get("prev_kv"))
    )


_TARGETS: dict[str, tuple[int, str]] = {
    "value": (pb.Compare.VALUE, "value"),
    "version": (pb.Compare.VERSION, "version"),
    "create": (pb.Compare.CREATE, "create_revision"),
    "mod": (pb.Compare.MOD, "mod_revision"),
    "lease": (pb.Compare.LEASE, "lease"),
}
_RESULTS: dict[str, int] = {
    "=": pb.Compare.EQUAL,
    "!=": pb.Compare.NOT_EQUAL,
    "<": pb.Compare.LESS,
    ">": pb.Compare.GREATER,
}


def compare(c: dict[str, Any]) -> pb.Compare:
    try:
        target, field = _TARGETS[c["target"]]
        result = _RESULTS[c["result"]]
    except KeyError as exc:
        raise InvalidOperation(f"bad txn compare {c!r}: unknown {exc}") from None
    value = c["value"]
    msg = pb.Compare(result=result, target=target, key=_b(c["key"]), range_end=_b(c.get("range_end")))  # type: ignore[arg-type]
    setattr(msg, field, value.encode() if field == "value" else int(value))
    return msg


def request_op(op: Request) -> pb.RequestOp:
    kind = op["kind"]
    if kind == "put":
        return pb.RequestOp(request_put=put_request(op))
    if kind == "range":
        return pb.RequestOp(request_range=range_request(op))
    if kind == "delete":
        return pb.RequestOp(request_delete_range=delete_request(op))
    if kind == "txn":
        return pb.RequestOp(request_txn=txn_request(op))
    raise InvalidOperation(f"operation of kind {kind!r} cannot be part of a txn")


def txn_request(op: Request) -> pb.TxnRequest:
    return pb.TxnRequest(
        compare=[compare(c) for c in op.get("compare") or ()],
        success=[request_op(o) for o in op.get("success") or ()],
        failure=[request_op(o) for o in op.get("failure") or ()],
    )


# Responses. Responses nested in a txn carry no header: etcd fills (or not) their header
# differently across versions, and the txn's own header is the one that counts.


def range_output(r: pb.RangeResponse) -> dict[str, Any]:
    return {"header": header(r.header), "kvs": [kv(m) for m in r.kvs], "more": r.more, "count": r.count}


def put_output(r: pb.PutResponse) -> dict[str, Any]:
    h = r.header
    return {
        "header": {"revision": h.revision, "member_id": h.member_id, "raft_term": h.raft_term},
        "prev_kv": kv(r.prev_kv) if r.HasField("prev_kv") else None,
    }


def delete_output(r: pb.DeleteRangeResponse) -> dict[str, Any]:
    return {"header": header(r.header), "deleted": r.deleted, "prev_kvs": [kv(m) for m in r.prev_kvs]}


def txn_output(r: pb.TxnResponse) -> dict[str, Any]:
    return {
        "header": header(r.header),
        "succeeded": r.succeeded,
        "responses": [response_op(x) for x in r.responses],
    }


def response_op(r: pb.ResponseOp) -> dict[str, Any]:
    which = r.WhichOneof("response")
    if which == "response_put":
        p = r.response_put
        return {"kind": "put", "prev_kv": kv(p.prev_kv) if p.HasField("prev_kv") else None}
    if which == "response_range":
        g = r.response_range
        return {"kind": "range", "kvs": [kv(m) for m in g.kvs], "more": g.more, "count": g.count}
    if which == "response_delete_range":
        d = r.response_delete_range
        return {"kind": "delete", "deleted": d.deleted, "prev_kvs": [kv(m) for m in d.prev_kvs]}
    if which == "response_txn":
        t = r.response_txn
        return {"kind": "txn", "succeeded": t.succeeded, "responses": [response_op(x) for x in t.responses]}
    raise ValueError(f"txn response of unknown kind {which!r}")


def lease_grant_output(r: pb.LeaseGrantResponse) -> dict[str, Any]:
    return {"header": header(r.header), "id": r.ID, "ttl": r.TTL}


def lease_keepalive_output(r: pb.LeaseKeepAliveResponse) -> dict[str, Any]:
    """etcd answers a keepalive for a lease it does not hold with a TTL of 0, not an error."""
    if r.TTL <= 0:
        return {"error": "lease_not_found"}
    return {"header": header(r.header), "id": r.ID, "ttl": r.TTL}


def lease_timetolive_output(r: pb.LeaseTimeToLiveResponse) -> dict[str, Any]:
    """etcd answers a lease it does not hold with a TTL of -1, not an error (its
    LeaseServer turns ErrLeaseNotFound into that)."""
    if r.TTL == -1:
        return {"error": "lease_not_found"}
    return {
        "header": header(r.header),
        "id": r.ID,
        "ttl": r.TTL,
        "granted_ttl": r.grantedTTL,
        "keys": sorted(_s(k) for k in r.keys),
    }


def header_output(r: Any) -> dict[str, Any]:
    """Output of lease_revoke, compact and defragment: the header alone."""
    return {"header": header(r.header)}


# Watch


_EVENT_TYPES = {mvccpb.Event.PUT: "PUT", mvccpb.Event.DELETE: "DELETE"}


def event(e: mvccpb.Event) -> dict[str, Any]:
    return {
        "type": _EVENT_TYPES.get(e.type, str(e.type)),
        "kv": kv(e.kv),
        "prev_kv": kv(e.prev_kv) if e.HasField("prev_kv") else None,
    }


def watch_request(r: pb.WatchCreateRequest) -> dict[str, Any]:
    """The ``request`` of a watch record (range_end null for a single key, as in range)."""
    return {
        "key": _s(r.key),
        "range_end": _s(r.range_end) if r.range_end else None,
        "start_revision": r.start_revision,
        "prev_kv": r.prev_kv,
        "progress_notify": r.progress_notify,
        **({"filters": [_FILTER_NAMES[f] for f in r.filters]} if r.filters else {}),
        **({"fragment": True} if r.fragment else {}),
    }


_FILTER_NAMES = {pb.WatchCreateRequest.NOPUT: "noput", pb.WatchCreateRequest.NODELETE: "nodelete"}
