"""The plugin's fixtures, used the way a user would use them: the typed calls on a real
cluster, with real answers, and every history checked by the fixture at the end."""

from __future__ import annotations

from typing import Any

import pytest

from harness.client.api import (
    CompactedError,
    Event,
    FutureRevisionError,
    KeyValue,
    LeaseNotFoundError,
    RecordingClient,
    WatchEndedError,
    create_revision,
    mod_revision,
    op,
    value,
    version,
)

pytestmark = pytest.mark.integration


def _get(key: str) -> dict[str, Any]:
    return {
        "kind": "range",
        "key": key,
        "range_end": None,
        "revision": 0,
        "limit": 0,
        "keys_only": False,
        "count_only": False,
        "serializable": False,
    }


def test_raw_requests_still_record_and_check(etcd_recorder: RecordingClient, etcd_seed: int) -> None:
    value = f"v{etcd_seed}"
    put = etcd_recorder.execute({"kind": "put", "key": "a", "value": value, "lease": 0, "prev_kv": False})
    assert put.status == "ok" and put.output["header"]["revision"] == 2
    got = etcd_recorder.execute(_get("a"))
    assert got.output["kvs"][0]["value"] == value
    assert got.output["kvs"][0]["mod_revision"] == 2
    assert etcd_recorder.get("a").kv == KeyValue(
        key="a", value=value, create_revision=2, mod_revision=2, version=1
    )


def test_cluster_fixture_is_a_real_cluster(etcd_cluster: Any) -> None:
    assert len(etcd_cluster.endpoints()) == 3
    assert etcd_cluster.leader() is not None


def test_puts_gets_ranges_and_deletes(etcd_recorder: RecordingClient) -> None:
    etcd = etcd_recorder
    assert [etcd.put(f"a/{i}", f"v{i}").revision for i in range(3)] == [2, 3, 4]
    again = etcd.put("a/0", "w", prev_kv=True)
    assert again.revision == 5
    assert again.prev_kv == KeyValue(key="a/0", value="v0", create_revision=2, mod_revision=2, version=1)
    now = etcd.get("a/0")
    assert now.revision == 5 and now.kv == KeyValue(
        key="a/0", value="w", create_revision=2, mod_revision=5, version=2
    )
    assert etcd.get("a/0", revision=4).kv == again.prev_kv
    assert etcd.get("a/0", serializable=True).kv is not None
    page = etcd.range("a/", prefix=True, limit=2)
    assert [kv.key for kv in page.kvs] == ["a/0", "a/1"] and (page.count, page.more) == (3, True)
    assert [kv.value for kv in etcd.range("a/", prefix=True, keys_only=True).kvs] == ["", "", ""]
    counted = etcd.range("a/", prefix=True, count_only=True)
    assert (counted.kvs, counted.count) == ([], 3)
    newest = etcd.range("a/", prefix=True, sort_order="descend", sort_target="mod")
    assert [kv.key for kv in newest.kvs] == ["a/0", "a/2", "a/1"]
    assert etcd.range("a/1", "a/3").count == 2
    gone = etcd.delete("a/", prefix=True, prev_kv=True)
    assert (gone.revision, gone.deleted) == (6, 3) and [kv.value for kv in gone.prev_kvs] == ["w", "v1", "v2"]
    assert etcd.get("a/0").kv is None and etcd.delete("a/0").deleted == 0
    with pytest.raises(FutureRevisionError):
        etcd.get("a/0", revision=100)


def test_txns_take_the_branch_their_compares_choose(etcd_recorder: RecordingClient) -> None:
    etcd = etcd_recorder
    first = etcd.put("k", "1")
    swap = etcd.txn(
        [value("k") == "1", mod_revision("k") == first.revision, version("k") > 0],
        then=[op.put("k", "2", prev_kv=True), op.get("k")],
        otherwise=[op.get("k")],
    )
    assert swap.succeeded and swap.revision == first.revision + 1
    put, read = swap.responses
    assert put.prev_kv is not None and put.prev_kv.value == "1"  # type: ignore[union-attr]
    assert read.kvs[0].value == "2" and read.kvs[0].version == 2  # type: ignore[union-attr]
    lost = etcd.txn([create_revision("k") < first.revision], then=[op.delete("k")], otherwise=[op.get("k")])
    assert not lost.succeeded and lost.revision == swap.revision
    assert lost.responses[0].kvs[0].value == "2"  # type: ignore[union-attr]
    nested = etcd.txn(
        [value("missing") == ""],
        otherwise=[op.txn([value("k") == "2"], then=[op.put("other", "x"), op.delete("k")])],
    )
    inner = nested.responses[0]
    assert not nested.succeeded and inner.succeeded and len(inner.responses) == 2  # type: ignore[union-attr]
    assert etcd.get("k").kv is None and etcd.get("other").kv is not None


def test_leases_hold_keys_until_revoked(etcd_recorder: RecordingClient) -> None:
    etcd = etcd_recorder
    grant = etcd.lease_grant(60)
    assert grant.ttl == 60 and grant.id == 1 << 20 | 1
    held = etcd.put("held", "1", lease=grant.id)
    assert etcd.get("held").kv.lease == grant.id  # type: ignore[union-attr]
    alive = etcd.keepalive(grant.id)
    assert alive.id == grant.id and 0 < alive.ttl <= 60
    ttl = etcd.lease_timetolive(grant.id, keys=True)
    assert (ttl.id, ttl.granted_ttl, ttl.keys) == (grant.id, 60, ["held"]) and 0 < ttl.ttl <= 60
    revoked = etcd.lease_revoke(grant.id)
    assert revoked.revision == held.revision + 1 and etcd.get("held").kv is None
    with pytest.raises(LeaseNotFoundError) as after:
        etcd.keepalive_once(grant.id)
    assert after.value.status == "ok" and after.value.record.input == op.lease_keepalive(grant.id)
    with pytest.raises(LeaseNotFoundError):
        etcd.put("held", "2", lease=grant.id)
    with pytest.raises(LeaseNotFoundError):
        etcd.lease_timetolive(grant.id)


def test_watches_see_every_change_and_compaction_cancels_them(etcd_recorder: RecordingClient) -> None:
    etcd = etcd_recorder
    with etcd.watch("w/", prefix=True, prev_kv=True) as watch:
        put = etcd.put("w/a", "1")
        etcd.put("w/b", "2")
        etcd.put("x", "not watched")
        deleted = etcd.delete("w/a")
        events = watch.events(until_revision=deleted.revision)
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in events] == [
        ("PUT", "w/a", 2),
        ("PUT", "w/b", 3),
        ("DELETE", "w/a", 5),
    ]
    assert events[0] == Event(
        type="PUT", kv=KeyValue(key="w/a", value="1", create_revision=2, mod_revision=2, version=1)
    )
    assert events[2].prev_kv is not None and events[2].prev_kv.value == "1"
    compacted = etcd.compact(deleted.revision)
    assert compacted.revision == deleted.revision
    assert etcd.defragment().record is not None
    assert etcd.get("w/b").kv.value == "2"  # type: ignore[union-attr]
    with pytest.raises(CompactedError):
        etcd.get("w/a", revision=put.revision)
    with (
        etcd.watch("w/", prefix=True, start_revision=put.revision) as late,
        pytest.raises(WatchEndedError) as ended,
    ):
        late.events(until_revision=deleted.revision, timeout=5)
    assert ended.value.response is not None and ended.value.response.kind == "canceled"
    assert ended.value.response.compact_revision == deleted.revision and ended.value.events == []
