"""The typed API's requests: the dicts traffic writes, understood by the model and the
client alike (no etcd needed)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.client import convert
from harness.client.api import create_revision, lease, mod_revision, op, value, version
from harness.client.convert import InvalidOperation
from harness.client.proto import etcd_pb2 as pb
from harness.traffic.ops import delete_op, prefix_end, put_op, range_op, txn_op
from models.etcd.requests import apply
from models.etcd.state import Store
from tests.common.simulator import commit


def test_kv_requests_are_traffics_dicts() -> None:
    assert op.put("k", "v") == put_op("k", "v")
    assert op.put("k", "v", lease=7, prev_kv=True) == put_op("k", "v", lease=7, prev_kv=True)
    assert op.get("k") == range_op("k")
    assert op.get("k", revision=3, serializable=True) == range_op("k", revision=3, serializable=True)
    assert op.range("a/", prefix=True, limit=4) == range_op("a/", prefix_end("a/"), limit=4)
    assert op.range("a", "c", keys_only=True) == range_op("a", "c", keys_only=True)
    assert op.range("a", "c", count_only=True) == range_op("a", "c", count_only=True)
    assert op.delete("k", prev_kv=True) == delete_op("k", prev_kv=True)
    assert op.delete("a", "c") == delete_op("a", "c")
    cmp = [{"key": "k", "target": "mod", "result": "=", "value": 3}]
    assert op.txn([mod_revision("k") == 3], [op.put("k", "v")], [op.get("k")]) == txn_op(
        cmp, [put_op("k", "v")], [range_op("k")]
    )


def test_options_left_at_etcds_default_are_not_written() -> None:
    sorted_ = op.range("a", "z", sort_order="descend", sort_target="mod", min_mod_revision=2)
    assert sorted_ == range_op("a", "z", sort_order="descend", sort_target="mod", min_mod_revision=2)
    assert "ignore_lease" not in op.put("k", "v")
    assert op.put("k", "v", ignore_lease=True)["ignore_lease"] is True


def test_lease_and_maintenance_requests() -> None:
    assert op.lease_grant(30, 5) == {"kind": "lease_grant", "id": 5, "ttl": 30}
    assert op.lease_revoke(5) == {"kind": "lease_revoke", "id": 5}
    assert op.lease_keepalive(5) == {"kind": "lease_keepalive", "id": 5}
    assert op.lease_timetolive(5, keys=True) == {"kind": "lease_timetolive", "id": 5, "keys": True}
    assert op.compact(9) == {"kind": "compact", "revision": 9, "physical": False}
    assert op.defragment() == {"kind": "defragment"}


def test_key_ranges_as_clientv3_names_them() -> None:
    assert op.key_range("a/", prefix=True) == ("a/", "a0")
    assert op.key_range("a", from_key=True) == ("a", "\x00")
    assert op.key_range("", prefix=True) == ("\x00", "\x00")
    assert op.key_range("é", prefix=True) == ("é", "ê")
    with pytest.raises(InvalidOperation, match="at most one"):
        op.key_range("a", "b", prefix=True)


@pytest.mark.parametrize(
    "build",
    [
        lambda: op.range("a", "z", limit=2, sort_target="mod"),  # a limit only keeps key order
        lambda: op.put("k", "v", lease=3, ignore_lease=True),
        lambda: op.get("k", revision=-1),
        lambda: op.lease_grant(30, 0),
        lambda: op.txn(then=[op.compact(3)]),
        lambda: op.checked({"kind": "range", "key": "k", "fragment": True}),
        lambda: op.checked({"kind": "watch", "key": "k"}),
    ],
)
def test_requests_the_model_refuses_fail_where_they_are_built(build: Any) -> None:
    with pytest.raises(InvalidOperation):
        build()


def test_compares_are_the_dicts_the_client_converts() -> None:
    assert (value("k") == "v") == {"key": "k", "target": "value", "result": "=", "value": "v"}
    assert (version("k") > 0)["result"] == ">"
    assert (create_revision("k") != 4) == {"key": "k", "target": "create", "result": "!=", "value": 4}
    assert (lease("k") == 7)["target"] == "lease"
    ranged = mod_revision("a/", prefix=True) < 5
    assert ranged == {"key": "a/", "range_end": "a0", "target": "mod", "result": "<", "value": 5}
    msg = convert.compare(ranged)
    assert (msg.target, msg.result, msg.mod_revision) == (pb.Compare.MOD, pb.Compare.LESS, 5)
    assert (msg.key, msg.range_end) == (b"a/", b"a0")
    assert convert.compare(value("k") == "v").value == b"v"


def test_compares_refuse_what_etcd_cannot_compare() -> None:
    with pytest.raises(TypeError, match="takes str"):
        _ = value("k") == 3
    with pytest.raises(TypeError, match="takes int"):
        _ = mod_revision("k") == "3"
    with pytest.raises(TypeError, match="takes int"):
        _ = version("k") == True  # noqa: E712
    with pytest.raises(TypeError):
        _ = mod_revision("k") <= 3  # type: ignore[operator]


def _run(*requests: dict[str, Any]) -> list[dict[str, Any]]:
    store = Store()
    outs = []
    for req in requests:
        res = apply(store, req)
        commit(store, res)
        outs.append(res.output)
    return outs


def test_the_model_reads_compares_as_written() -> None:
    """put a=1 at revision 2, b=1 at 3; each txn puts nothing, so the store stays."""
    then, otherwise = [op.get("a")], [op.get("b")]
    holds = [
        value("a") == "1",
        value("a") != "2",
        mod_revision("a") < 3,
        create_revision("b") > 2,
        version("a", "c") == 1,
        lease("a") == 0,
        version("missing") == 0,
    ]
    fails = [value("a") == "2", mod_revision("a") > 2, version("a", "c") > 1, value("missing") == ""]
    txns = [op.txn([c], then, otherwise) for c in holds + fails]
    outs = _run(op.put("a", "1"), op.put("b", "1"), *txns)[2:]
    assert [o["succeeded"] for o in outs] == [True] * len(holds) + [False] * len(fails)
    assert all(o["header"]["revision"] == 3 for o in outs)


def test_every_kind_reaches_the_client_as_a_grpc_request() -> None:
    txn = op.txn([value("k") == "v"], [op.put("k", "w", prev_kv=True)], [op.delete("k", prefix=True)])
    msg = convert.txn_request(txn)
    assert msg.success[0].request_put.prev_kv and msg.success[0].request_put.value == b"w"
    assert msg.failure[0].request_delete_range.range_end == b"l"
    ranged = convert.range_request(op.range("a", from_key=True, sort_order="descend", sort_target="value"))
    assert (ranged.range_end, ranged.sort_order, ranged.sort_target) == (
        b"\x00",
        pb.RangeRequest.DESCEND,
        pb.RangeRequest.VALUE,
    )
