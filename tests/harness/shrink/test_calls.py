"""Recorded requests written back as etcd calls: typed when the typed builder gives
back the very request, the recorded dict otherwise."""

from __future__ import annotations

from typing import Any

import msgspec

from harness.client.api import op
from harness.shrink.calls import call_line, calls_test
from harness.traffic import ops
from harness.traffic.plan import make_plan
from models.history import OpRecord
from scenarios import get_scenario


def record(request: dict[str, Any], status: str = "ok", client: int = 7, call: int = 0) -> OpRecord:
    return OpRecord(id=call, client=client, call=call, input=request, status=status)  # type: ignore[arg-type]


class Spy:
    """Stands in for etcd_recorder: what each written call asks for."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def __getattr__(self, method: str) -> Any:
        builders = {"execute": lambda r: r, "keepalive_once": op.lease_keepalive}
        build = builders.get(method) or getattr(op, method)
        return lambda *a, **kw: self.sent.append(build(*a, **kw))


def replayed(line: str) -> dict[str, Any]:
    from harness.client.api import compare

    spy = Spy()
    eval(line, {"etcd_recorder": spy, "op": op, **{n: getattr(compare, n) for n in dir(compare)}})
    return spy.sent[0]


TRAFFIC = [
    ops.put_op("key/0001", "c1-1", prev_kv=True),
    ops.range_op("key/0002"),
    ops.range_op("key/", "key0", limit=3, serializable=True),
    ops.delete_op("key/0003"),
    ops.txn_op(
        [{"key": "key/0001", "target": "mod", "result": "<", "value": 2}],
        [ops.put_op("key/0001", "c1-2"), ops.range_op("key/0004")],
        [ops.range_op("key/0001")],
    ),
    {"kind": "compact", "revision": 12, "physical": False},
    {"kind": "lease_grant", "id": 99, "ttl": 7200},
    {"kind": "lease_revoke", "id": 99},
]


def test_each_line_asks_for_exactly_the_recorded_request() -> None:
    for request in TRAFFIC:
        line = call_line(record(request))
        assert "execute(" not in line, line
        assert replayed(line) == request, line
    assert call_line(record(ops.range_op("key/0002"))) == "etcd_recorder.get('key/0002')"


def test_failed_calls_and_unknown_shapes_are_replayed_raw() -> None:
    failed = call_line(record(ops.put_op("key/1", "v"), status="unknown"))
    assert failed.startswith("etcd_recorder.execute(") and replayed(failed) == ops.put_op("key/1", "v")
    odd = {
        "kind": "txn",
        "compare": [{"key": "k", "target": "mod", "result": "<", "value": "x"}],
        "success": [],
        "failure": [],
    }
    assert call_line(record(odd)).startswith("etcd_recorder.execute(")


def test_a_test_file_only_for_one_fault_free_client() -> None:
    plan = make_plan(get_scenario("selftest"), 3)
    alone = msgspec.structs.replace(plan, clients=plan.clients[7:8], watchers=[], faults=[])
    history = [record(r, call=i) for i, r in enumerate(TRAFFIC)] + [record(ops.range_op("x"), client=1000)]
    text = calls_test(alone, history, "Reproduction of lost-write")
    assert text is not None
    compile(text, "test_recorded_calls.py", "exec")
    body = [line.strip() for line in text.splitlines() if line.startswith("    etcd_recorder.")]
    assert [replayed(line) for line in body] == TRAFFIC, "history order, the plan's client only"
    assert calls_test(plan, history, "x") is None
