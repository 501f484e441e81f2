"""The recorder against a fake client: what lands in the history file (no etcd needed)."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.client.errors import EtcdError
from harness.client.proto import etcd_pb2 as pb
from harness.client.recorder import Clock, Counter, Recorder
from harness.history.jsonl import HistoryWriter, read_history
from models.history import EndRecord, Header

HDR = pb.ResponseHeader(member_id=1, revision=10, raft_term=2)


class FakeClient:
    """Answers Put with a header, Range with a timeout, Txn with whatever ``txn`` holds."""

    endpoint = "127.0.0.1:1"

    def __init__(self) -> None:
        self.txn: BaseException | None = None
        self.kv = SimpleNamespace(
            Put="Put", Range="Range", Txn="Txn", DeleteRange="DeleteRange", Compact="Compact"
        )
        self.lease = SimpleNamespace(LeaseGrant="LeaseGrant", LeaseRevoke="LeaseRevoke")
        self.maintenance = SimpleNamespace(Defragment="Defragment")

    def call(self, method: str, request: Any, timeout: float | None = None) -> Any:
        if method == "Put":
            return pb.PutResponse(header=HDR)
        if method == "Range":
            raise EtcdError("DEADLINE_EXCEEDED", "Deadline Exceeded")
        if method == "Txn" and self.txn is not None:
            raise self.txn
        if method == "DeleteRange":
            raise EtcdError("UNAVAILABLE", "etcdserver: request timed out")
        raise AssertionError(method)


def _recorder(
    path: Path, client: Any, client_id: int = 0, ids: Counter | None = None
) -> tuple[Recorder, Any]:
    writer = HistoryWriter(path, Header(model="etcd"))
    return Recorder(client, writer, Clock(), ids or Counter(), client_id), writer


def test_ok_fail_unknown_records(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    rec, writer = _recorder(path, FakeClient())
    put = {"kind": "put", "key": "k", "value": "v", "lease": 0, "prev_kv": False}
    r1 = rec.execute(put)
    r2 = rec.execute({"kind": "range", "key": "k"})
    r3 = rec.execute({"kind": "delete", "key": "k"})
    r4 = rec.execute({"kind": "lease_grant", "id": 0, "ttl": 5})  # refused before it is sent
    writer.close(EndRecord(time=0))
    assert [r.status for r in (r1, r2, r3, r4)] == ["ok", "fail", "unknown", "fail"]
    hist = read_history(str(path))
    ops = hist.ops
    assert [o.id for o in ops] == [0, 1, 2, 3]
    assert ops[0].output == {"header": {"revision": 10, "member_id": 1, "raft_term": 2}, "prev_kv": None}
    assert ops[0].input == put
    assert ops[0].member == "127.0.0.1:1"
    assert ops[1].error is not None and ops[1].error.code == "DEADLINE_EXCEEDED"
    assert ops[2].status == "unknown" and ops[2].ret is not None and ops[2].ret >= ops[2].call
    assert ops[3].error is not None and ops[3].error.code == "INVALID_OPERATION"
    assert all(o.ret is not None and o.call <= o.ret for o in ops)
    assert hist.finished


def test_interrupt_is_recorded_unknown_without_return(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    client = FakeClient()
    client.txn = KeyboardInterrupt()
    rec, writer = _recorder(path, client)
    with pytest.raises(KeyboardInterrupt):
        rec.execute({"kind": "txn", "compare": [], "success": [{"kind": "put", "key": "k", "value": "v"}]})
    writer.close()
    (op,) = read_history(str(path)).ops
    assert (op.status, op.ret) == ("unknown", None)


def test_ids_unique_across_threads(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    writer = HistoryWriter(path, Header(model="etcd"))
    ids, clock = Counter(), Clock()
    client = FakeClient()
    put = {"kind": "put", "key": "k", "value": "v"}

    def run(c: int) -> None:
        r = Recorder(client, writer, clock, ids, c)  # type: ignore[arg-type]
        for _ in range(500):
            r.execute(put)

    threads = [threading.Thread(target=run, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    ops = read_history(str(path)).ops
    assert len(ops) == 4000
    assert len({o.id for o in ops}) == 4000
    for c in range(8):
        mine = [o for o in ops if o.client == c]
        assert all(a.ret is not None and a.ret <= b.call for a, b in zip(mine, mine[1:], strict=False))
