"""One client against a real etcd and the model, step by step, with kills and restarts.

Hypothesis shrinks a divergence to a minimal sequence and prints ``@reproduce_failure``
for it. The model keeps a set of possible states so that a call with an unknown outcome
(a member killed under it) branches instead of guessing.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from harness.client.etcd import EtcdClient
from harness.client.recorder import Clock, Counter, Recorder
from harness.cluster import make_cluster
from harness.cluster.binaries import EtcdBinary, binary_version
from harness.history.jsonl import HistoryWriter
from harness.traffic.ops import delete_op, prefix_end, put_op, range_op, txn_op
from models.etcd.model import EtcdModel
from models.history import Header

ETCD = "/usr/bin/etcd"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists(ETCD), reason="etcd 3.4 (Debian's etcd-server) not installed"),
]

KEYS = st.sampled_from(["k0", "k1", "k2"])
MODEL = EtcdModel()


class EtcdAgainstModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.cluster: Any = None
        self.states: set[Any] = {MODEL.init()}
        self.seq = 0

    @initialize()
    def start(self) -> None:
        import tempfile

        self.tmp = tempfile.TemporaryDirectory(prefix="ehx-seq-")
        binary = EtcdBinary(ETCD, binary_version(ETCD))
        self.cluster = make_cluster("process", 3, binary, self.tmp.name).start()
        self.writer = HistoryWriter(os.path.join(self.tmp.name, "history.jsonl"), Header(model="etcd"))
        self.clock, self.ids = Clock(), Counter()

    def teardown(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            self.writer.close()
            self.tmp.cleanup()

    def _do(self, op: dict[str, Any]) -> Any:
        member = next(m for m in self.cluster.members if m.state == "running")
        with EtcdClient(member.client_url, timeout=5.0) as c:
            rec = Recorder(c, self.writer, self.clock, self.ids, 0).execute(op, 5.0)
        if rec.status == "fail":
            return rec
        out = rec.output if rec.status == "ok" else None
        nxt = set()
        for s in self.states:
            ok, s2 = MODEL.step(s, op, out)
            if ok:
                nxt.add(s2)
            if rec.status == "unknown":
                nxt.add(s)
        assert nxt, (
            f"etcd answered {MODEL.describe_operation(op, out)}, which no model state allows; "
            f"states: {[MODEL.describe_state(s) for s in self.states]}"
        )
        self.states = nxt
        return rec

    def _value(self) -> str:
        self.seq += 1
        return f"v{self.seq}"

    @rule(key=KEYS, prev=st.booleans())
    def put(self, key: str, prev: bool) -> None:
        self._do(put_op(key, self._value(), prev_kv=prev))

    @rule(key=KEYS)
    def get(self, key: str) -> None:
        self._do(range_op(key))

    @rule(limit=st.integers(0, 3), keys_only=st.booleans())
    def list_prefix(self, limit: int, keys_only: bool) -> None:
        self._do(range_op("k", prefix_end("k"), limit=limit, keys_only=keys_only))

    @rule(key=KEYS, prev=st.booleans())
    def delete(self, key: str, prev: bool) -> None:
        self._do(delete_op(key, prev_kv=prev))

    @rule(key=KEYS, version=st.integers(0, 3), other=KEYS)
    def txn(self, key: str, version: int, other: str) -> None:
        self._do(
            txn_op(
                [{"key": key, "target": "version", "result": "=", "value": version}],
                [put_op(key, self._value()), range_op(other)],
                [range_op(key), delete_op(other)],
            )
        )

    @rule(back=st.integers(0, 5))
    def range_at_revision(self, back: int) -> None:
        rev = max(s.revision for s in self.states)
        self._do(range_op("k", prefix_end("k"), revision=max(1, rev - back)))

    @rule(back=st.integers(0, 3))
    def compact(self, back: int) -> None:
        rev = min(s.revision for s in self.states)
        self._do({"kind": "compact", "revision": max(1, rev - back), "physical": False})

    @precondition(lambda self: sum(m.state == "running" for m in self.cluster.members) == 3)
    @rule(i=st.integers(0, 2))
    def kill(self, i: int) -> None:
        self.cluster.kill(self.cluster.members[i])

    @precondition(lambda self: any(m.state == "killed" for m in self.cluster.members))
    @rule()
    def restart(self) -> None:
        m = next(m for m in self.cluster.members if m.state == "killed")
        self.cluster.restart(m)
        self.cluster.wait_healthy(30)

    @invariant()
    def possible(self) -> None:
        assert self.states


EtcdAgainstModel.TestCase.settings = settings(
    max_examples=6,
    stateful_step_count=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEtcdAgainstModel = EtcdAgainstModel.TestCase
