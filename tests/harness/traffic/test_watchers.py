"""Watchers against a real etcd: a slow consumer that stops reading and one that cancels
and re-creates its watch still see every event once, in order, and the history checks ok."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest

from harness.client.recorder import Clock, Counter, Recorder
from harness.history.jsonl import HistoryWriter
from harness.traffic.finish import sentinels
from harness.traffic.ops import delete_op, put_op
from harness.traffic.plan import make_plan
from harness.traffic.watchers import WATCHER_CLIENT_BASE, Watchers
from models.etcd import check_history
from models.history import Header
from scenarios.base import Scenario
from tests.common.local_etcd import BINARIES, from_fresh, start_etcd

pytestmark = [pytest.mark.integration, pytest.mark.skipif("3.4" not in BINARIES, reason="no etcd 3.4")]


def test_slow_and_recreated_watchers_miss_nothing(tmp_path: Path) -> None:
    scn = Scenario(name="t", description="", members=1, watchers_per_member=4, slow_watchers=True)
    plan = make_plan(scn, 1)
    slow, recreated = (
        msgspec.structs.replace(plan.watchers[0], prefix=True, stall_every=5, stall_s=1.0, recreate_every=0),
        msgspec.structs.replace(plan.watchers[1], prefix=True, stall_every=0, recreate_every=3),
    )
    no_delete = msgspec.structs.replace(
        plan.watchers[2], prefix=True, stall_every=0, recreate_every=0, filters=("nodelete",)
    )
    no_put = msgspec.structs.replace(
        plan.watchers[3], prefix=True, stall_every=0, recreate_every=0, filters=("noput",)
    )
    plan = msgspec.structs.replace(plan, watchers=[slow, recreated, no_delete, no_put])
    node = start_etcd("3.4", BINARIES["3.4"])
    try:
        path = tmp_path / "h.jsonl"
        writer = HistoryWriter(path, Header(model="etcd"))
        clock, ids = Clock(), Counter()
        watchers = Watchers(
            plan, [node.endpoint], writer, clock, ids, Counter(), client_base=WATCHER_CLIENT_BASE
        )
        watchers.start(time.monotonic() + 10)
        rec = Recorder(node.client(5.0), writer, clock, ids, 0)
        for i in range(40):
            assert rec.execute(put_op(f"key/{i % 5:04d}", f"v{i}")).status == "ok"
            if i % 10 == 9:
                assert rec.execute(delete_op(f"key/{i % 5:04d}")).status == "ok"
            time.sleep(0.02)
        targets = sentinels(watchers, [node.endpoint], writer, clock, ids)
        watchers.finish(targets, timeout=10.0)
        writer.close()
    finally:
        node.stop()
    hist = from_fresh(path)
    v = check_history(hist)
    assert v.verdict == "ok", v.summary()
    by_client: dict[int, set[int]] = {}
    for r in hist.watches:
        if r.event == "request":
            by_client.setdefault(r.client, set()).add(r.watch)
    assert len(by_client[WATCHER_CLIENT_BASE + 1]) >= 4, "the recreating watcher opened new watches"
    seen = [
        ev["kv"]["value"]
        for r in hist.watches
        if r.client == WATCHER_CLIENT_BASE and r.event == "events"
        for ev in r.events
    ]
    assert [s for s in seen if s.startswith("v")] == [f"v{i}" for i in range(40)]
    types = {
        c: {ev["type"] for r in hist.watches if r.client == c and r.event == "events" for ev in r.events}
        for c in (WATCHER_CLIENT_BASE + 2, WATCHER_CLIENT_BASE + 3)
    }
    assert types == {WATCHER_CLIENT_BASE + 2: {"PUT"}, WATCHER_CLIENT_BASE + 3: {"DELETE"}}


def test_a_watcher_that_dies_of_a_harness_error_says_so(tmp_path: Path) -> None:
    """No member at the endpoint is a broken stream, retried; an endpoint no client can
    be made for (https with no CA known) is a harness error, and the history says so."""
    plan = make_plan(Scenario(name="t", description="", members=1, watchers_per_member=1), 1)
    path = tmp_path / "h.jsonl"
    writer = HistoryWriter(path, Header(model="etcd"))
    clock, ids = Clock(), Counter()
    watchers = Watchers(
        plan, ["https://127.0.0.1:1"], writer, clock, ids, Counter(), client_base=WATCHER_CLIENT_BASE
    )
    watchers.start(time.monotonic() + 1)
    watchers.finish(None, timeout=1.0)
    writer.close()
    notes = [n.text for n in from_fresh(path).notes]
    assert any(t.startswith("watcher 0 stopped: TlsError") for t in notes), notes
