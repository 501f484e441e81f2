"""The typed client: its calls go through the recorder into the history, come back
typed, and the history they write is one the etcd model checks (no etcd needed)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.client.api import (
    CompactedError,
    EtcdCallError,
    KeyValue,
    LeaseNotFoundError,
    PutResponse,
    RecordingClient,
    mod_revision,
    op,
    value,
)
from harness.client.convert import InvalidOperation
from harness.client.errors import EtcdError
from harness.client.proto import etcd_pb2 as pb
from harness.client.recorder import Clock, Counter, Recorder
from harness.history.jsonl import HistoryWriter, read_history
from models.check import check
from models.etcd.requests import apply
from models.etcd.state import Store
from models.history import EndRecord, Header, OpRecord
from tests.common.simulator import commit

HDR = pb.ResponseHeader(member_id=1, revision=10, raft_term=2)


class ScriptedClient:
    """An EtcdClient stand-in: each stub method answers what ``answers`` holds for it
    (a response or an exception to raise), and every request sent is kept."""

    endpoint = "127.0.0.1:1"

    def __init__(self, answers: dict[str, Any]):
        self.answers = answers
        self.sent: list[tuple[str, Any]] = []
        self.kv = SimpleNamespace(Put="Put", Range="Range", Txn="Txn", DeleteRange="DeleteRange")
        self.lease = SimpleNamespace(LeaseGrant="LeaseGrant")

    def call(self, method: str, request: Any, timeout: float | None = None) -> Any:
        self.sent.append((method, request))
        answer = self.answers[method]
        if isinstance(answer, BaseException):
            raise answer
        return answer


def _client(
    path: Path, answers: dict[str, Any], client_id: int = 0
) -> tuple[RecordingClient, HistoryWriter, Any]:
    grpc = ScriptedClient(answers)
    writer = HistoryWriter(path, Header(model="etcd"))
    return RecordingClient(Recorder(grpc, writer, Clock(), Counter(), client_id)), writer, grpc  # type: ignore[arg-type]


def test_typed_calls_are_recorded_as_the_raw_dicts(tmp_path: Path) -> None:
    answers = {
        "Put": pb.PutResponse(header=HDR),
        "Range": EtcdError("UNAVAILABLE", "etcdserver: leader changed"),
    }
    api, writer, grpc = _client(tmp_path / "h.jsonl", answers)
    put = api.put("k", "v", prev_kv=True)
    assert put == PutResponse(revision=10) and put.record is not None and put.record.status == "ok"
    with pytest.raises(EtcdCallError) as failed:
        api.get("k")
    raw = api.execute({"kind": "put", "key": "k", "value": "w", "lease": 0, "prev_kv": False})
    writer.close(EndRecord(time=0))
    ops = read_history(str(tmp_path / "h.jsonl")).ops
    assert [o.input for o in ops] == [op.put("k", "v", prev_kv=True), op.get("k"), raw.input]
    assert [o.status for o in ops] == ["ok", "fail", "ok"]
    assert failed.value.status == "fail" and failed.value.record.id == ops[1].id == 1
    assert failed.value.error is not None and failed.value.error.code == "UNAVAILABLE"
    assert isinstance(raw, OpRecord) and raw.output["header"]["revision"] == 10
    assert grpc.sent[0] == ("Put", pb.PutRequest(key=b"k", value=b"v", prev_kv=True))


def test_a_write_that_timed_out_raises_unknown_and_stays_in_the_history(tmp_path: Path) -> None:
    api, writer, _ = _client(
        tmp_path / "h.jsonl", {"Txn": EtcdError("DEADLINE_EXCEEDED", "Deadline Exceeded")}
    )
    with pytest.raises(EtcdCallError, match="txn unknown: DEADLINE_EXCEEDED") as exc:
        api.txn([value("k") == "v"], then=[op.put("k", "w")])
    writer.close()
    (rec,) = read_history(str(tmp_path / "h.jsonl")).ops
    assert rec.status == "unknown" and exc.value.record == rec


def test_a_request_the_model_refuses_is_neither_sent_nor_recorded(tmp_path: Path) -> None:
    api, writer, grpc = _client(tmp_path / "h.jsonl", {})
    with pytest.raises(InvalidOperation):
        api.range("a", "z", limit=1, sort_target="value")
    with pytest.raises(InvalidOperation):
        api.do({"kind": "put", "key": "k"})
    writer.close()
    assert grpc.sent == [] and read_history(str(tmp_path / "h.jsonl")).ops == []


def test_lease_ids_are_picked_per_client_unless_given(tmp_path: Path) -> None:
    grant = pb.LeaseGrantResponse(header=HDR, ID=0, TTL=30)
    api, writer, grpc = _client(tmp_path / "h.jsonl", {"LeaseGrant": grant}, client_id=2)
    api.lease_grant(30)
    api.lease_grant(30)
    api.lease_grant(60, id=77)
    writer.close()
    assert [r.ID for _, r in grpc.sent] == [3 << 20 | 1, 3 << 20 | 2, 77]
    assert [r.TTL for _, r in grpc.sent] == [30, 30, 60]


class ModelRecorder:
    """Stands in for a Recorder on a correct etcd: answers as the model does and writes
    the records a Recorder would."""

    client_id = 0

    def __init__(self, writer: HistoryWriter):
        self.store = Store()
        self.writer = writer
        self.n = 0

    def execute(self, request: dict[str, Any], timeout: float | None = None) -> OpRecord:
        res = apply(self.store, request)
        commit(self.store, res)
        rec = OpRecord(
            id=self.n,
            client=0,
            call=2 * self.n,
            ret=2 * self.n + 1,
            input=request,
            status="ok",
            output=res.output,
        )
        self.n += 1
        self.writer.write(rec)
        return rec


def test_a_session_reads_back_what_it_wrote_and_its_history_checks(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    writer = HistoryWriter(path, Header(model="etcd"))
    api = RecordingClient(ModelRecorder(writer))  # type: ignore[arg-type]
    first = api.put("a/1", "x")
    api.put("a/2", "y")
    again = api.put("a/1", "z", prev_kv=True)
    assert (first.revision, again.revision) == (2, 4)
    assert again.prev_kv == KeyValue(key="a/1", value="x", create_revision=2, mod_revision=2, version=1)
    listed = api.range("a/", prefix=True, limit=1)
    assert [kv.key for kv in listed.kvs] == ["a/1"] and (listed.count, listed.more) == (2, True)
    assert api.get("a/1", revision=first.revision).kv == again.prev_kv
    swap = api.txn([mod_revision("a/1") == again.revision], then=[op.delete("a/", prefix=True, prev_kv=True)])
    assert swap.succeeded and swap.revision == 5
    assert [kv.value for kv in swap.responses[0].prev_kvs] == ["z", "y"]  # type: ignore[union-attr]
    grant = api.lease_grant(60)
    api.put("b", "1", lease=grant.id)
    assert api.lease_timetolive(grant.id, keys=True).keys == ["b"]
    api.lease_revoke(grant.id)
    with pytest.raises(LeaseNotFoundError):
        api.keepalive(grant.id)
    api.compact(swap.revision)
    with pytest.raises(CompactedError) as compacted:
        api.get("a/1", revision=first.revision)
    writer.close(EndRecord(time=100))
    hist = read_history(str(path))
    assert hist.ops[-1] == compacted.value.record and hist.ops[-1].output == {"error": "compacted"}
    assert check(hist).verdict == "ok"
