"""Typed responses read off the output dicts the client records, and the errors a
record stands for (no etcd needed)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.client import convert
from harness.client.api import (
    CompactedError,
    DeleteResponse,
    EtcdCallError,
    FutureRevisionError,
    KeyValue,
    LeaseGrantResponse,
    LeaseKeepAliveResponse,
    LeaseNotFoundError,
    LeaseTimeToLiveResponse,
    PutResponse,
    RangeResponse,
    TxnResponse,
    op,
    value,
)
from harness.client.api.errors import call_error
from harness.client.api.responses import parse
from harness.client.proto import etcd_pb2 as pb
from harness.client.proto import kv_pb2 as mvccpb
from models.history import ErrorInfo, OpRecord

HDR = pb.ResponseHeader(revision=12, member_id=99, raft_term=3)
A = mvccpb.KeyValue(key=b"a", value=b"1", create_revision=4, mod_revision=9, version=3, lease=7)
KV_A = KeyValue(key="a", value="1", create_revision=4, mod_revision=9, version=3, lease=7)


def _record(
    request: dict[str, Any], output: Any, status: str = "ok", error: ErrorInfo | None = None
) -> OpRecord:
    return OpRecord(id=1, client=0, call=0, ret=1, input=request, output=output, status=status, error=error)  # type: ignore[arg-type]


def test_range_put_delete_from_the_clients_outputs() -> None:
    got = parse(op.get("a"), convert.range_output(pb.RangeResponse(header=HDR, kvs=[A], count=1)))
    assert got == RangeResponse(revision=12, kvs=[KV_A], count=1, more=False)
    assert isinstance(got, RangeResponse) and got.kv == KV_A
    empty = parse(op.get("b"), convert.range_output(pb.RangeResponse(header=HDR)))
    assert isinstance(empty, RangeResponse) and empty.kv is None and empty.count == 0
    put = parse(op.put("a", "2", prev_kv=True), convert.put_output(pb.PutResponse(header=HDR, prev_kv=A)))
    assert put == PutResponse(revision=12, prev_kv=KV_A)
    assert parse(op.put("a", "2"), convert.put_output(pb.PutResponse(header=HDR))) == PutResponse(revision=12)
    out = convert.delete_output(pb.DeleteRangeResponse(header=HDR, deleted=1, prev_kvs=[A]))
    assert parse(op.delete("a", prev_kv=True), out) == DeleteResponse(revision=12, deleted=1, prev_kvs=[KV_A])


def test_txn_responses_follow_the_branch_taken_with_the_txns_revision() -> None:
    req = op.txn(
        [value("a") == "1"],
        [op.put("a", "2", prev_kv=True), op.txn(then=[op.get("a")])],
        [op.delete("a")],
    )
    inner = pb.TxnResponse(
        succeeded=True, responses=[pb.ResponseOp(response_range=pb.RangeResponse(kvs=[A], count=1))]
    )
    msg = pb.TxnResponse(
        header=HDR,
        succeeded=True,
        responses=[
            pb.ResponseOp(response_put=pb.PutResponse(prev_kv=A)),
            pb.ResponseOp(response_txn=inner),
        ],
    )
    got = parse(req, convert.txn_output(msg))
    assert got == TxnResponse(
        revision=12,
        succeeded=True,
        responses=[
            PutResponse(revision=12, prev_kv=KV_A),
            TxnResponse(
                revision=12, succeeded=True, responses=[RangeResponse(revision=12, kvs=[KV_A], count=1)]
            ),
        ],
    )
    lost = pb.TxnResponse(
        header=HDR, responses=[pb.ResponseOp(response_delete_range=pb.DeleteRangeResponse())]
    )
    assert parse(req, convert.txn_output(lost)) == TxnResponse(
        revision=12, succeeded=False, responses=[DeleteResponse(revision=12, deleted=0)]
    )
    with pytest.raises(ValueError, match="branch has 1 requests and its response 0"):
        parse(req, {"header": {"revision": 12}, "succeeded": False, "responses": []})


def test_lease_responses() -> None:
    grant = convert.lease_grant_output(pb.LeaseGrantResponse(header=HDR, ID=5, TTL=30))
    assert parse(op.lease_grant(30, 5), grant) == LeaseGrantResponse(revision=12, id=5, ttl=30)
    alive = convert.lease_keepalive_output(pb.LeaseKeepAliveResponse(header=HDR, ID=5, TTL=29))
    assert parse(op.lease_keepalive(5), alive) == LeaseKeepAliveResponse(revision=12, id=5, ttl=29)
    ttl = pb.LeaseTimeToLiveResponse(header=HDR, ID=5, TTL=20, grantedTTL=30, keys=[b"b", b"a"])
    assert parse(op.lease_timetolive(5, keys=True), convert.lease_timetolive_output(ttl)) == (
        LeaseTimeToLiveResponse(revision=12, id=5, ttl=20, granted_ttl=30, keys=["a", "b"])
    )


def test_the_record_rides_along_outside_equality() -> None:
    req = op.put("a", "1")
    rec = _record(req, {"header": {"revision": 2}, "prev_kv": None})
    got = parse(req, rec.output, rec)
    assert got.record is rec and got == PutResponse(revision=2) and "record" not in repr(got)


def test_answers_are_not_errors() -> None:
    assert call_error(_record(op.get("a"), {"header": {"revision": 2}, "kvs": [], "count": 0})) is None


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("compacted", CompactedError),
        ("future_revision", FutureRevisionError),
        ("lease_not_found", LeaseNotFoundError),
    ],
)
def test_the_models_definite_errors_have_their_own_class(reason: str, kind: type[EtcdCallError]) -> None:
    info = ErrorInfo(code="OUT_OF_RANGE", message="mvcc: ...")
    rec = _record(op.get("a", revision=1), {"error": reason}, error=info)
    err = call_error(rec)
    assert type(err) is kind and err.record is rec
    assert (err.status, err.reason, err.error) == ("ok", reason, info)
    assert str(err) == f"range ok: {reason}"


def test_failed_and_unknown_calls_carry_status_and_grpc_error() -> None:
    info = ErrorInfo(code="DEADLINE_EXCEEDED", message="Deadline Exceeded")
    err = call_error(_record(op.put("a", "1"), None, "unknown", info))
    assert type(err) is EtcdCallError and (err.status, err.reason, err.error) == ("unknown", None, info)
    assert str(err) == "put unknown: DEADLINE_EXCEEDED: Deadline Exceeded"
    failed = call_error(_record(op.get("a"), None, "fail", ErrorInfo(code="UNAVAILABLE")))
    assert failed is not None and failed.status == "fail" and str(failed) == "range fail: UNAVAILABLE"
