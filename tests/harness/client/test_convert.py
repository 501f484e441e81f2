"""Dicts of the history schema <-> etcd protobuf messages (no etcd needed)."""

from __future__ import annotations

import pytest

from harness.client import convert
from harness.client.convert import InvalidOperation
from harness.client.proto import etcd_pb2 as pb
from harness.client.proto import kv_pb2 as mvccpb
from harness.client.watch import message
from models.etcd.requests import is_serializable_read, may_write

HDR = pb.ResponseHeader(cluster_id=9, member_id=7, revision=42, raft_term=3)
KV = mvccpb.KeyValue(key=b"k", value=b"v", create_revision=2, mod_revision=5, version=3, lease=11)
KV_DICT = {"key": "k", "value": "v", "create_revision": 2, "mod_revision": 5, "version": 3, "lease": 11}


def test_put_request_fields() -> None:
    req = convert.put_request({"kind": "put", "key": "k", "value": "é", "lease": 5, "prev_kv": True})
    assert (req.key, req.value, req.lease, req.prev_kv) == (b"k", "é".encode(), 5, True)


def test_put_request_defaults() -> None:
    req = convert.put_request({"kind": "put", "key": "k", "value": ""})
    assert (req.value, req.lease, req.prev_kv) == (b"", 0, False)


@pytest.mark.parametrize(("range_end", "wire"), [(None, b""), ("\u0000", b"\x00"), ("l", b"l")])
def test_range_request_range_end(range_end: str | None, wire: bytes) -> None:
    op = {
        "kind": "range",
        "key": "k",
        "range_end": range_end,
        "revision": 7,
        "limit": 3,
        "keys_only": True,
        "count_only": False,
        "serializable": True,
    }
    req = convert.range_request(op)
    assert req.range_end == wire
    assert (req.revision, req.limit, req.keys_only, req.count_only, req.serializable) == (
        7,
        3,
        True,
        False,
        True,
    )


def test_delete_request() -> None:
    req = convert.delete_request({"kind": "delete", "key": "a", "range_end": "b", "prev_kv": True})
    assert (req.key, req.range_end, req.prev_kv) == (b"a", b"b", True)


@pytest.mark.parametrize(
    ("target", "value", "field", "wire_target", "wire_value"),
    [
        ("value", "x", "value", pb.Compare.VALUE, b"x"),
        ("version", 2, "version", pb.Compare.VERSION, 2),
        ("create", 3, "create_revision", pb.Compare.CREATE, 3),
        ("mod", 4, "mod_revision", pb.Compare.MOD, 4),
        ("lease", 5, "lease", pb.Compare.LEASE, 5),
    ],
)
def test_compare_targets(
    target: str, value: object, field: str, wire_target: int, wire_value: object
) -> None:
    c = convert.compare({"key": "k", "target": target, "result": "=", "value": value})
    assert c.target == wire_target
    assert c.WhichOneof("target_union") == field
    assert getattr(c, field) == wire_value


def test_compare_zero_value_is_still_set() -> None:
    c = convert.compare({"key": "k", "target": "version", "result": "=", "value": 0})
    assert c.WhichOneof("target_union") == "version"


@pytest.mark.parametrize(
    ("result", "wire"),
    [
        ("=", pb.Compare.EQUAL),
        ("!=", pb.Compare.NOT_EQUAL),
        ("<", pb.Compare.LESS),
        (">", pb.Compare.GREATER),
    ],
)
def test_compare_results(result: str, wire: int) -> None:
    c = convert.compare({"key": "k", "range_end": "l", "target": "mod", "result": result, "value": 1})
    assert c.result == wire
    assert c.range_end == b"l"


def test_bad_compare_is_invalid_operation() -> None:
    with pytest.raises(InvalidOperation):
        convert.compare({"key": "k", "target": "bogus", "result": "=", "value": 1})


def test_txn_request_nested() -> None:
    op = {
        "kind": "txn",
        "compare": [{"key": "k", "target": "value", "result": "=", "value": "v"}],
        "success": [
            {"kind": "put", "key": "k", "value": "w"},
            {"kind": "txn", "compare": [], "success": [{"kind": "delete", "key": "d"}], "failure": []},
        ],
        "failure": [{"kind": "range", "key": "k"}],
    }
    req = convert.txn_request(op)
    assert [r.WhichOneof("request") for r in req.success] == ["request_put", "request_txn"]
    assert req.success[1].request_txn.success[0].request_delete_range.key == b"d"
    assert req.failure[0].request_range.key == b"k"


def test_txn_rejects_non_kv_ops() -> None:
    with pytest.raises(InvalidOperation):
        convert.txn_request({"kind": "txn", "compare": [], "success": [{"kind": "compact", "revision": 1}]})


def test_header_and_kv() -> None:
    assert convert.header(HDR) == {"revision": 42, "member_id": 7, "raft_term": 3}
    assert convert.kv(KV) == KV_DICT


def test_non_utf8_bytes_are_escaped_not_fatal() -> None:
    assert convert.kv(mvccpb.KeyValue(key=b"k", value=b"\xff"))["value"] == "\\xff"


def test_put_output() -> None:
    assert convert.put_output(pb.PutResponse(header=HDR)) == {"header": convert.header(HDR), "prev_kv": None}
    assert convert.put_output(pb.PutResponse(header=HDR, prev_kv=KV))["prev_kv"] == KV_DICT


def test_range_output() -> None:
    out = convert.range_output(pb.RangeResponse(header=HDR, kvs=[KV], more=True, count=5))
    assert out == {"header": convert.header(HDR), "kvs": [KV_DICT], "more": True, "count": 5}


def test_delete_output() -> None:
    out = convert.delete_output(pb.DeleteRangeResponse(header=HDR, deleted=1, prev_kvs=[KV]))
    assert out == {"header": convert.header(HDR), "deleted": 1, "prev_kvs": [KV_DICT]}


def test_txn_output_nested_without_headers() -> None:
    resp = pb.TxnResponse(
        header=HDR,
        succeeded=False,
        responses=[
            pb.ResponseOp(response_range=pb.RangeResponse(header=HDR, kvs=[KV], count=1)),
            pb.ResponseOp(response_put=pb.PutResponse(header=HDR)),
            pb.ResponseOp(response_delete_range=pb.DeleteRangeResponse(deleted=0)),
            pb.ResponseOp(
                response_txn=pb.TxnResponse(
                    succeeded=True, responses=[pb.ResponseOp(response_put=pb.PutResponse(prev_kv=KV))]
                )
            ),
        ],
    )
    assert convert.txn_output(resp) == {
        "header": convert.header(HDR),
        "succeeded": False,
        "responses": [
            {"kind": "range", "kvs": [KV_DICT], "more": False, "count": 1},
            {"kind": "put", "prev_kv": None},
            {"kind": "delete", "deleted": 0, "prev_kvs": []},
            {"kind": "txn", "succeeded": True, "responses": [{"kind": "put", "prev_kv": KV_DICT}]},
        ],
    }


def test_lease_and_header_outputs() -> None:
    assert convert.lease_grant_output(pb.LeaseGrantResponse(header=HDR, ID=5, TTL=10)) == {
        "header": convert.header(HDR),
        "id": 5,
        "ttl": 10,
    }
    assert convert.header_output(pb.CompactionResponse(header=HDR)) == {"header": convert.header(HDR)}


def test_watch_messages() -> None:
    created = message(pb.WatchResponse(header=HDR, watch_id=3, created=True))
    assert (created.kind, created.watch_id, created.header) == ("created", 3, convert.header(HDR))
    ev = mvccpb.Event(type=mvccpb.Event.DELETE, kv=KV, prev_kv=KV)
    events = message(pb.WatchResponse(header=HDR, events=[ev, mvccpb.Event(kv=KV)]))
    assert events.kind == "events"
    assert events.events == [
        {"type": "DELETE", "kv": KV_DICT, "prev_kv": KV_DICT},
        {"type": "PUT", "kv": KV_DICT, "prev_kv": None},
    ]
    assert message(pb.WatchResponse(header=HDR, watch_id=-1)).kind == "progress"
    canceled = message(pb.WatchResponse(header=HDR, canceled=True, compact_revision=9, cancel_reason="x"))
    assert (canceled.kind, canceled.compact_revision, canceled.cancel_reason) == ("canceled", 9, "x")


def test_watch_request_record() -> None:
    req = pb.WatchCreateRequest(key=b"a", range_end=b"\x00", start_revision=4, prev_kv=True)
    assert convert.watch_request(req) == {
        "key": "a",
        "range_end": "\u0000",
        "start_revision": 4,
        "prev_kv": True,
        "progress_notify": False,
    }
    assert convert.watch_request(pb.WatchCreateRequest(key=b"a"))["range_end"] is None


def test_may_write_and_serializable() -> None:
    r = {"kind": "range", "key": "k"}
    rs = {"kind": "range", "key": "k", "serializable": True}
    p = {"kind": "put", "key": "k", "value": "v"}
    assert not may_write(r)
    assert not may_write({"kind": "defragment"})
    assert may_write({"kind": "compact", "revision": 1})
    assert not may_write({"kind": "txn", "compare": [], "success": [r], "failure": [r]})
    assert may_write({"kind": "txn", "compare": [], "success": [r], "failure": [p]})
    assert may_write({"kind": "txn", "success": [{"kind": "txn", "success": [p]}]})
    assert is_serializable_read(rs)
    assert not is_serializable_read(r)
    assert is_serializable_read({"kind": "txn", "success": [rs], "failure": [rs]})
    assert not is_serializable_read({"kind": "txn", "success": [rs], "failure": [r]})
    assert not is_serializable_read({"kind": "txn", "success": [{"kind": "txn", "success": [rs]}]})
