"""The client and recorder against a real single-member etcd (each version present)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.client import EtcdClient, EtcdError, execute
from harness.client.aio import AsyncEtcdClient, AsyncRecorder, aexecute
from harness.client.recorder import Clock, Counter, Recorder
from harness.client.watch import WatchMessage
from harness.history.jsonl import HistoryWriter, read_history
from models.etcd import check_history
from models.history import Header
from tests.common.local_etcd import BINARIES, VERSIONS, LocalEtcd, from_fresh, start_etcd

pytestmark = pytest.mark.integration

_unique = itertools.count()


def prefix() -> str:
    return f"t{next(_unique)}/"


def put(c: EtcdClient, key: str, value: str, lease: int = 0) -> dict[str, Any]:
    return execute(c, {"kind": "put", "key": key, "value": value, "lease": lease, "prev_kv": False}, 5)


def rng(c: EtcdClient, key: str, range_end: str | None = None, **kw: Any) -> dict[str, Any]:
    return execute(c, {"kind": "range", "key": key, "range_end": range_end, **kw}, 5)


def recorder(etcd: LocalEtcd, path: Path, timeout: float = 5.0) -> tuple[Recorder, HistoryWriter]:
    writer = HistoryWriter(path, Header(model="etcd"))
    return Recorder(etcd.client(timeout), writer, Clock(), Counter(), 0), writer


def test_put_get_and_headers(etcd: LocalEtcd) -> None:
    p = prefix()
    with etcd.client() as c:
        out1 = put(c, p + "a", "1")
        h = out1["header"]
        assert h["revision"] > 0 and h["member_id"] != 0 and h["raft_term"] > 0
        out2 = execute(c, {"kind": "put", "key": p + "a", "value": "2", "lease": 0, "prev_kv": True}, 5)
        assert out2["header"]["revision"] == h["revision"] + 1
        assert out2["prev_kv"]["value"] == "1" and out2["prev_kv"]["mod_revision"] == h["revision"]
        got = rng(c, p + "a")
        assert [kv["value"] for kv in got["kvs"]] == ["2"]
        assert got["kvs"][0]["version"] == 2 and got["count"] == 1 and got["more"] is False


def test_range_limit_revision_keys_only_count_only(etcd: LocalEtcd) -> None:
    p = prefix()
    end = p[:-1] + chr(ord(p[-1]) + 1)
    with etcd.client() as c:
        revs = [put(c, p + k, k.upper())["header"]["revision"] for k in ("a", "b", "c")]
        put(c, p + "a", "A2")
        limited = rng(c, p, end, limit=2)
        assert [kv["key"] for kv in limited["kvs"]] == [p + "a", p + "b"]
        assert limited["more"] is True and limited["count"] == 3
        old = rng(c, p, end, revision=revs[1])
        assert [(kv["key"], kv["value"]) for kv in old["kvs"]] == [(p + "a", "A"), (p + "b", "B")]
        keys = rng(c, p, end, keys_only=True)
        assert [kv["value"] for kv in keys["kvs"]] == ["", "", ""]
        counted = rng(c, p, end, count_only=True)
        assert counted["kvs"] == [] and counted["count"] == 3
        everything = rng(c, p, "\u0000")
        assert len(everything["kvs"]) >= 3


def test_delete_with_prev_kvs(etcd: LocalEtcd) -> None:
    p = prefix()
    with etcd.client() as c:
        put(c, p + "a", "1")
        put(c, p + "b", "2")
        out = execute(c, {"kind": "delete", "key": p + "a", "range_end": p + "c", "prev_kv": True}, 5)
        assert out["deleted"] == 2 and [kv["value"] for kv in out["prev_kvs"]] == ["1", "2"]
        assert rng(c, p + "a")["kvs"] == []


def test_txn_both_branches(etcd: LocalEtcd) -> None:
    p = prefix()
    with etcd.client() as c:
        put(c, p + "k", "v1")

        def cas(expect: str, new: str) -> dict[str, Any]:
            return execute(
                c,
                {
                    "kind": "txn",
                    "compare": [{"key": p + "k", "target": "value", "result": "=", "value": expect}],
                    "success": [{"kind": "put", "key": p + "k", "value": new, "prev_kv": True}],
                    "failure": [{"kind": "range", "key": p + "k"}],
                },
                5,
            )

        ok = cas("v1", "v2")
        assert ok["succeeded"] is True
        assert ok["responses"] == [{"kind": "put", "prev_kv": ok["responses"][0]["prev_kv"]}]
        assert ok["responses"][0]["prev_kv"]["value"] == "v1"
        no = cas("v1", "v3")
        assert no["succeeded"] is False
        assert no["responses"][0]["kind"] == "range" and no["responses"][0]["kvs"][0]["value"] == "v2"
        assert no["header"]["revision"] == ok["header"]["revision"]
        absent = execute(
            c,
            {
                "kind": "txn",
                "compare": [{"key": p + "new", "target": "version", "result": "=", "value": 0}],
                "success": [{"kind": "put", "key": p + "new", "value": "x"}],
                "failure": [],
            },
            5,
        )
        assert absent["succeeded"] is True


def test_compacted_and_future_revisions_are_recorded_ok(own_etcd: LocalEtcd, tmp_path: Path) -> None:
    p = prefix()
    rec, writer = recorder(own_etcd, tmp_path / "h.jsonl")
    with own_etcd.client() as c:
        r1 = put(c, p + "k", "1")["header"]["revision"]
        r2 = put(c, p + "k", "2")["header"]["revision"]
        r3 = put(c, p + "k", "3")["header"]["revision"]
    assert rec.execute({"kind": "compact", "revision": r2, "physical": True}).status == "ok"
    compacted = rec.execute({"kind": "range", "key": p + "k", "revision": r1})
    future = rec.execute({"kind": "range", "key": p + "k", "revision": r3 + 100})
    again = rec.execute({"kind": "compact", "revision": r1, "physical": False})
    at_r2 = rec.execute({"kind": "range", "key": p + "k", "revision": r2})
    at_r3 = rec.execute({"kind": "range", "key": p + "k", "revision": r3})
    serializable = rec.execute({"kind": "range", "key": p + "k", "revision": r1, "serializable": True})
    writer.close()
    assert (compacted.status, compacted.output) == ("ok", {"error": "compacted"})
    assert compacted.error is not None and compacted.error.code == "OUT_OF_RANGE"
    assert (future.status, future.output) == ("ok", {"error": "future_revision"})
    assert (again.status, again.output) == ("ok", {"error": "compacted"})
    assert at_r2.status == "ok" and at_r2.output["kvs"][0]["value"] == "2"
    assert at_r3.status == "ok" and at_r3.output["kvs"][0]["value"] == "3"
    assert serializable.status == "fail"
    assert len(read_history(str(tmp_path / "h.jsonl")).ops) == 7


def test_leases(etcd: LocalEtcd, tmp_path: Path) -> None:
    p = prefix()
    lease_id = 0x1000 + next(_unique)
    rec, writer = recorder(etcd, tmp_path / "h.jsonl")
    grant = rec.execute({"kind": "lease_grant", "id": lease_id, "ttl": 60})
    assert grant.status == "ok" and grant.output["id"] == lease_id and grant.output["ttl"] == 60
    again = rec.execute({"kind": "lease_grant", "id": lease_id, "ttl": 60})
    assert again.status == "fail" and again.error is not None and again.error.code == "FAILED_PRECONDITION"
    attached = rec.execute({"kind": "put", "key": p + "a", "value": "x", "lease": lease_id})
    assert attached.status == "ok"
    with etcd.client() as c:
        assert rng(c, p + "a")["kvs"][0]["lease"] == lease_id
        assert list(c.lease_time_to_live(lease_id, keys=True).keys) == [(p + "a").encode()]
        assert c.lease_keep_alive_once(lease_id).TTL == 60
    revoke = rec.execute({"kind": "lease_revoke", "id": lease_id})
    assert (
        revoke.status == "ok" and revoke.output["header"]["revision"] > attached.output["header"]["revision"]
    )
    with etcd.client() as c:
        assert rng(c, p + "a")["kvs"] == []
    no_lease = rec.execute({"kind": "put", "key": p + "b", "value": "x", "lease": lease_id})
    assert (no_lease.status, no_lease.output) == ("ok", {"error": "lease_not_found"})
    revoke2 = rec.execute({"kind": "lease_revoke", "id": lease_id})
    assert (revoke2.status, revoke2.output) == ("ok", {"error": "lease_not_found"})
    with etcd.client() as c:
        assert rng(c, p + "b")["kvs"] == []
    writer.close()


def test_keepalive_renews_and_an_expired_lease_checks_ok(own_etcd: LocalEtcd, tmp_path: Path) -> None:
    """A 2 s lease kept alive past its TTL, then left to expire: the keys go with it, the
    keepalive after that finds no lease, and the whole history checks ok (expiry is
    allowed once the TTL ran out since the last renewal, required 8 s later)."""
    p = prefix()
    lease_id = 0x2000 + next(_unique)
    path = tmp_path / "h.jsonl"
    rec, writer = recorder(own_etcd, path)
    assert rec.execute({"kind": "lease_grant", "id": lease_id, "ttl": 2}).status == "ok"
    assert rec.execute({"kind": "put", "key": p + "a", "value": "x", "lease": lease_id}).status == "ok"
    for _ in range(3):
        time.sleep(1.0)
        renewed = rec.execute({"kind": "lease_keepalive", "id": lease_id})
        assert renewed.status == "ok" and renewed.output["ttl"] == 2
    assert rec.execute({"kind": "range", "key": p + "a"}).output["count"] == 1

    async def renew_async() -> dict[str, Any]:
        async with AsyncEtcdClient(own_etcd.endpoint) as c:
            return await aexecute(c, {"kind": "lease_keepalive", "id": lease_id}, 5)

    assert asyncio.run(renew_async())["ttl"] == 2
    _wait(lambda: rec.execute({"kind": "range", "key": p + "a"}).output["count"] == 0, seconds=15)
    gone = rec.execute({"kind": "lease_keepalive", "id": lease_id})
    assert (gone.status, gone.output) == ("ok", {"error": "lease_not_found"})
    writer.close()

    v = check_history(from_fresh(path))
    assert v.verdict == "ok", v.summary()


def test_timetolive_lists_the_leases_keys_and_a_gone_lease_is_not_found(
    own_etcd: LocalEtcd, tmp_path: Path
) -> None:
    """TimeToLive from the sync and the aio client: TTLs and the keys attached (not the
    one put without the lease), and after the revoke TTL -1, recorded as
    ``lease_not_found``; the history checks ok."""
    p = prefix()
    lease_id = 0x3000 + next(_unique)
    path = tmp_path / "h.jsonl"
    rec, writer = recorder(own_etcd, path)
    assert rec.execute({"kind": "lease_grant", "id": lease_id, "ttl": 60}).status == "ok"
    for key in ("b", "a"):
        assert rec.execute({"kind": "put", "key": p + key, "value": "x", "lease": lease_id}).status == "ok"
    assert rec.execute({"kind": "put", "key": p + "b", "value": "y"}).status == "ok"
    ask = {"kind": "lease_timetolive", "id": lease_id, "keys": True}
    found = rec.execute(ask)
    assert found.status == "ok" and found.output["keys"] == [p + "a"], found.output
    assert found.output["granted_ttl"] == 60 and 0 < found.output["ttl"] <= 60

    async def ask_async() -> dict[str, Any]:
        async with AsyncEtcdClient(own_etcd.endpoint) as c:
            return await aexecute(c, {**ask, "keys": False}, 5)

    assert asyncio.run(ask_async())["keys"] == []
    assert rec.execute({"kind": "lease_revoke", "id": lease_id}).status == "ok"
    gone = rec.execute(ask)
    assert (gone.status, gone.output) == ("ok", {"error": "lease_not_found"})
    writer.close()

    v = check_history(from_fresh(path))
    assert v.verdict == "ok", v.summary()


def test_sorted_filtered_ranges_and_kept_leases_answer_as_the_model_says(
    own_etcd: LocalEtcd, tmp_path: Path
) -> None:
    """Every sort target and order, each revision filter, keys_only and limits, and puts
    that keep their key's lease: etcd's answers, recorded, check ok against the model
    (which would call any difference illegal)."""
    path = tmp_path / "h.jsonl"
    rec, writer = recorder(own_etcd, path)
    assert rec.execute({"kind": "lease_grant", "id": 0x3000, "ttl": 600}).status == "ok"
    for i, key in enumerate(["s/b", "s/a", "s/c", "s/b", "s/d", "s/a", "s/b"]):
        rec.execute({"kind": "put", "key": key, "value": f"v{9 - i}", "lease": 0x3000 if i % 3 == 0 else 0})
    rec.execute({"kind": "put", "key": "s/c", "value": "leased", "lease": 0x3000})
    kept = rec.execute({"kind": "put", "key": "s/c", "value": "kept", "lease": 0, "ignore_lease": True})
    assert kept.status == "ok"
    missing = rec.execute({"kind": "put", "key": "s/zz", "value": "x", "lease": 0, "ignore_lease": True})
    assert missing.status == "fail"
    bounds: list[dict[str, int]] = [
        {},
        {"min_mod_revision": 5},
        {"max_mod_revision": 6},
        {"min_create_revision": 4},
        {"max_create_revision": 3},
    ]
    for target in ("key", "version", "create", "mod", "value"):
        for order in ("none", "ascend", "descend"):
            for extra in bounds:
                op: dict[str, Any] = {"kind": "range", "key": "s/", "range_end": "s0"}
                op.update(sort_target=target, sort_order=order, **extra)
                if target == "key":
                    op["limit"] = 2
                assert rec.execute(op).status == "ok"
                assert rec.execute({**op, "keys_only": True}).status == "ok"
    writer.close()
    hist = from_fresh(path)
    v = check_history(hist)
    assert v.verdict == "ok", v.summary()
    read = next(o for o in hist.ops if o.input.get("sort_target") == "value" and not o.input.get("keys_only"))
    assert {kv["key"]: kv["lease"] for kv in read.output["kvs"]}["s/c"] == 0x3000


def _collect(it: Any, out: list[WatchMessage], until: Any) -> threading.Thread:
    def run() -> None:
        for m in it:
            out.append(m)
            if until(out):
                return

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _wait(cond: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_watch_prev_kv_progress_and_records(etcd: LocalEtcd, tmp_path: Path) -> None:
    p = prefix()
    path = tmp_path / "h.jsonl"
    rec, writer = recorder(etcd, path)
    with etcd.client() as c:
        start = put(c, p + "a", "0")["header"]["revision"]
        w = rec.watch(
            p, p[:-1] + chr(ord(p[-1]) + 1), start_revision=start, prev_kv=True, progress_notify=True
        )
        msgs: list[WatchMessage] = []
        t = _collect(w, msgs, lambda ms: sum(m.kind == "progress" for m in ms) >= 2)
        _wait(lambda: any(m.kind == "created" for m in msgs))
        put(c, p + "a", "1")
        execute(c, {"kind": "delete", "key": p + "a", "prev_kv": False}, 5)
        _wait(lambda: sum(len(m.events) for m in msgs) >= 3)
        w.request_progress()
        t.join(15)
        w.close()
    writer.close()
    events = [e for m in msgs for e in m.events]
    assert [(e["type"], e["kv"]["value"]) for e in events] == [("PUT", "0"), ("PUT", "1"), ("DELETE", "")]
    assert events[0]["kv"]["mod_revision"] == start
    assert events[1]["prev_kv"]["value"] == "0" and events[2]["prev_kv"]["value"] == "1"
    progress = [m for m in msgs if m.kind == "progress"]
    assert len(progress) >= 2 and progress[-1].header is not None
    assert progress[-1].header["revision"] >= events[-1]["kv"]["mod_revision"]
    records = read_history(str(path)).watches
    assert records[0].event == "request" and records[0].request is not None
    assert records[0].request["prev_kv"] is True and records[0].request["start_revision"] == start
    assert [r.event for r in records[1:]] == [m.kind for m in msgs]
    assert {r.watch for r in records} == {w.id}


@pytest.mark.parametrize("version", VERSIONS)
def test_a_fragmented_watch_response_is_joined_into_one_message(version: str, tmp_path: Path) -> None:
    """24 puts of 40 KB read back by a watch from the first one: one batch of 960 KB,
    which etcd splits when the watch asked for fragments (past --max-request-bytes,
    64 KiB here, plus the 512 KiB it allows for gRPC). Joined, the message holds what
    the unfragmented watch gets, and the record says how many responses it came in."""
    node = start_etcd(version, BINARIES[version], ("--max-request-bytes=65536",))
    path = tmp_path / "h.jsonl"
    try:
        rec, writer = recorder(node, path)
        puts = [{"kind": "put", "key": f"frag/{i:02}", "value": str(i % 10) * 40_000} for i in range(24)]
        revs = [rec.execute(op).output["header"]["revision"] for op in puts]
        got: dict[bool, list[WatchMessage]] = {}
        for fragment in (False, True):
            w = rec.watch("frag/", "frag0", start_revision=revs[0], fragment=fragment)
            msgs = got[fragment] = []
            t = _collect(w, msgs, lambda ms: sum(len(m.events) for m in ms) >= 24)
            t.join(15)
            w.close()
        writer.close()
    finally:
        node.stop()
    whole = [m for m in got[False] if m.kind == "events"]
    joined = [m for m in got[True] if m.kind == "events"]
    assert len(whole) == len(joined) == 1 and whole[0].fragments == 0 and joined[0].fragments > 1
    assert joined[0].events == whole[0].events
    assert [e["kv"]["mod_revision"] for e in joined[0].events] == revs
    records = [r for r in read_history(str(path)).watches if r.event in ("request", "events")]
    assert [r.request.get("fragment", False) for r in records if r.request is not None] == [False, True]
    assert [r.fragments for r in records if r.event == "events"] == [0, joined[0].fragments]
    assert check_history(from_fresh(path)).verdict == "ok"


def test_watch_compacted_start_is_canceled(own_etcd: LocalEtcd) -> None:
    with own_etcd.client() as c:
        r1 = put(c, "wc/a", "1")["header"]["revision"]
        r2 = put(c, "wc/a", "2")["header"]["revision"]
        c.compact(r2, physical=True)
        w = c.watch(b"wc/a", start_revision=r1)
        msgs: list[WatchMessage] = []
        _collect(w, msgs, lambda ms: False).join(10)
    assert [m.kind for m in msgs][-1] == "canceled"
    assert msgs[-1].compact_revision == r2


def test_watch_break_is_an_error_message(own_etcd: LocalEtcd) -> None:
    with own_etcd.client() as c:
        w = c.watch(b"wb/")
        msgs: list[WatchMessage] = []
        t = _collect(w, msgs, lambda ms: False)
        _wait(lambda: bool(msgs))
        own_etcd.stop()
        t.join(20)
    assert [m.kind for m in msgs] == ["created", "error"]
    assert msgs[-1].error is not None and msgs[-1].error.code == "UNAVAILABLE"


def test_paused_member_deadline_exceeded(own_etcd: LocalEtcd, tmp_path: Path) -> None:
    rec, writer = recorder(own_etcd, tmp_path / "h.jsonl", timeout=0.5)
    assert rec.execute({"kind": "put", "key": "p/a", "value": "1"}).status == "ok"
    own_etcd.pause()
    try:
        t0 = time.monotonic()
        w = rec.execute({"kind": "put", "key": "p/a", "value": "2"})
        r = rec.execute({"kind": "range", "key": "p/a"})
        c = rec.execute({"kind": "compact", "revision": 1})
        elapsed = time.monotonic() - t0
    finally:
        own_etcd.resume()
    writer.close()
    assert elapsed < 5
    assert w.error is not None and w.error.code == "DEADLINE_EXCEEDED" and w.status == "unknown", w
    assert w.ret is not None and w.ret - w.call >= 400_000_000
    assert r.status == "fail" and c.status == "unknown"
    assert rec.execute({"kind": "range", "key": "p/a"}, 5).status == "ok"


def test_stopped_member_refuses_definitely(own_etcd: LocalEtcd, tmp_path: Path) -> None:
    rec, writer = recorder(own_etcd, tmp_path / "h.jsonl", timeout=2)
    own_etcd.stop()
    w = rec.execute({"kind": "put", "key": "s/a", "value": "2"})
    writer.close()
    assert w.error is not None and w.error.code == "UNAVAILABLE"
    assert w.status == "fail", w.error.message


def test_client_recovers_quickly_after_member_restart(own_etcd: LocalEtcd) -> None:
    """Reconnect backoff is capped at 1 s: no lock-out after a member comes back."""
    with own_etcd.client(timeout=1) as c:
        put(c, "r/a", "1")
        own_etcd.kill()
        for _ in range(5):
            with pytest.raises(EtcdError):
                c.put(b"r/a", b"2", timeout=0.2)
            time.sleep(0.3)
        own_etcd.restart()
        t0 = time.monotonic()
        while True:
            try:
                c.put(b"r/a", b"3", timeout=0.5)
                break
            except EtcdError:
                assert time.monotonic() - t0 < 10, "client still failing 10 s after the restart"
                time.sleep(0.05)
        assert rng(c, "r/a")["kvs"][0]["value"] == "3"


def test_maintenance_calls(etcd: LocalEtcd) -> None:
    with etcd.client() as c:
        st = c.status()
        assert st.leader == st.header.member_id and st.raftAppliedIndex > 0
        assert etcd.version in st.version
        hk = c.hash_kv(0)
        assert hk.header.revision > 0
        assert c.hash().hash != 0
        assert [m.name for m in c.member_list().members] == ["m1"]
        assert list(c.alarms().alarms) == []
        assert "header" in execute(c, {"kind": "defragment"}, 10)  # 3.4 leaves it empty
    rec = Recorder(etcd.client(), HistoryWriter("/dev/null", Header()), Clock(), Counter(), 0)
    sample = rec.sample_status(hash_kv=True)
    assert sample.error is None and sample.hash is not None and sample.revision


def test_errors_are_typed(etcd: LocalEtcd) -> None:
    with etcd.client() as c:
        with pytest.raises(EtcdError) as exc:
            c.put(b"", b"x")
        assert exc.value.code == "INVALID_ARGUMENT" and "key is not provided" in exc.value.message


def test_async_client_and_recorder(etcd: LocalEtcd, tmp_path: Path) -> None:
    p = prefix()
    path = tmp_path / "h.jsonl"

    async def run() -> list[str]:
        writer = HistoryWriter(path, Header(model="etcd"))
        clock, ids = Clock(), Counter()
        async with AsyncEtcdClient(etcd.endpoint) as c:
            recs = [AsyncRecorder(c, writer, clock, ids, i) for i in range(8)]

            async def client(r: AsyncRecorder) -> list[str]:
                out: list[str] = []
                for i in range(20):
                    op = {
                        "kind": "put",
                        "key": f"{p}{r.client_id}",
                        "value": str(i),
                        "lease": 0,
                        "prev_kv": True,
                    }
                    out.append((await r.execute(op, 5)).status)
                out.append((await r.execute({"kind": "range", "key": p + "x", "revision": 10**9}, 5)).status)
                return out

            results = await asyncio.gather(*(client(r) for r in recs))
            assert (await c.status()).header.revision > 0
        writer.close()
        return [s for rs in results for s in rs]

    statuses = asyncio.run(run())
    assert statuses.count("ok") == len(statuses) == 8 * 21
    ops = read_history(str(path)).ops
    assert len(ops) == 8 * 21 and len({o.id for o in ops}) == len(ops)
    assert sum(o.output == {"error": "future_revision"} for o in ops) == 8
    last = [o for o in ops if o.client == 3 and o.input["kind"] == "put"][-1]
    assert last.output["prev_kv"]["value"] == "18"


@pytest.mark.slow
def test_watch_on_paused_member_breaks_by_keepalive(own_etcd: LocalEtcd) -> None:
    """A SIGSTOPped member answers no pings: the stream must end in an error event
    (keepalive 10 s + 5 s), not hang forever."""
    with own_etcd.client() as c:
        w = c.watch(b"wp/")
        msgs: list[WatchMessage] = []
        t = _collect(w, msgs, lambda ms: False)
        _wait(lambda: bool(msgs))
        own_etcd.pause()
        t0 = time.monotonic()
        try:
            t.join(40)
        finally:
            own_etcd.resume()
        elapsed = time.monotonic() - t0
        w.close()
    assert [m.kind for m in msgs] == ["created", "error"], msgs
    assert msgs[-1].error is not None and msgs[-1].error.code == "UNAVAILABLE"
    assert elapsed < 30
