"""Traffic over worker processes: the split of a plan's clients, the merge of the parts
into one history, and the gate shared by the parent and its workers."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from pathlib import Path

import pytest

from harness.client.recorder import Clock, Counter
from harness.history.jsonl import HistoryWriter, read_history
from harness.traffic.plan import make_plan
from harness.traffic.workers import _SLOTS, Flag, SharedGate, WorkerGate, Workers, split
from models.history import EndRecord, Header, OpRecord
from scenarios import get_scenario


@pytest.mark.parametrize("n", [1, 2, 3, 5, 64])
def test_every_client_goes_to_exactly_one_worker(n: int) -> None:
    plan = make_plan(get_scenario("kill-under-load"), 7)
    parts = split(plan, n)
    got = sorted(c.client for p in parts for c in p.clients)
    assert got == sorted(c.client for c in plan.clients)
    assert len(parts) == min(n, len(plan.clients)) and all(p.clients for p in parts)
    sizes = [len(p.clients) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    assert all(p.watchers == plan.watchers and p.faults == plan.faults for p in parts)


def op(client: int, i: int, call: int, ret: int | None) -> OpRecord:
    return OpRecord(
        id=i, client=client, call=call, ret=ret,
        input={"kind": "put", "key": "a", "value": str(i), "lease": 0, "prev_kv": False},
        status="ok" if ret is not None else "unknown",
        output={"header": {"revision": 1 + i}} if ret is not None else None,
    )  # fmt: skip


def test_parts_merge_in_completion_order_with_the_runs_ids(tmp_path: Path) -> None:
    plan = make_plan(get_scenario("smoke"), 1)
    writer = HistoryWriter(tmp_path / "history.jsonl", Header(model="etcd"))
    ids = Counter(100)
    workers = Workers(plan, ["127.0.0.1:1"], writer, Clock(), ids, qps=None, duration=1, workers=2)
    parts = [
        [op(0, 0, 10, 50), op(0, 1, 60, None), op(2, 2, 5, 20)],
        [op(1, 0, 1, 30), op(1, 1, 40, 45)],
    ]
    for path, records in zip(workers.part_paths, parts, strict=True):
        part = HistoryWriter(path, Header(model="etcd"))
        for rec in records:
            part.write(rec)
        part.close()
    assert workers.merge() == 0, "no merge while a worker may still write its part"
    assert all(Path(p).exists() for p in workers.part_paths) and workers.error is not None
    workers.error, workers.finished = None, True  # as run() leaves it once every worker is joined
    assert workers.merge() == 5
    writer.close(EndRecord(time=100))
    hist = read_history(str(tmp_path / "history.jsonl"))
    assert [(o.client, o.call) for o in hist.ops] == [(2, 5), (1, 1), (1, 40), (0, 10), (0, 60)]
    assert [o.id for o in hist.ops] == list(range(100, 105))
    assert not any(Path(p).exists() for p in workers.part_paths), "merged parts are removed"


def test_a_part_that_cannot_be_read_stays_and_is_named(tmp_path: Path) -> None:
    plan = make_plan(get_scenario("smoke"), 1)
    writer = HistoryWriter(tmp_path / "history.jsonl", Header(model="etcd"))
    workers = Workers(plan, ["127.0.0.1:1"], writer, Clock(), Counter(), qps=None, duration=1, workers=2)
    HistoryWriter(workers.part_paths[0], Header(model="etcd")).close()
    workers.finished = True
    assert workers.merge() == 0
    assert workers.error is not None and workers.part_paths[1] in workers.error
    assert Path(workers.part_paths[0]).exists()
    writer.close()


def test_a_hold_waits_for_the_requests_in_flight_of_every_worker() -> None:
    counters = mp.get_context("spawn").Array("q", 2 * _SLOTS + 2, lock=False)
    opened = Flag(counters, 2 * _SLOTS + 1)
    opened.set()
    parent = WorkerGate(opened, counters, 2)
    a, b = SharedGate(opened, counters, 0), SharedGate(opened, counters, 1)
    a.sent(1)
    b.sent(2)
    released = threading.Timer(0.3, lambda: (a.sent(-1), b.sent(-2)))
    released.start()
    t0 = time.monotonic()
    with parent.hold(drain_s=5):
        held = time.monotonic() - t0
        assert not opened.is_set(), "workers send nothing new while it is held"
    assert opened.is_set()
    assert 0.25 < held < 4, "the hold ended once the last worker's requests came back"
    released.cancel()
