"""Cutting a history keeps what was known at the cut: in-flight operations become
unknown, later records go, and the verdict of what came before is kept."""

from __future__ import annotations

from harness.history.cut import cut
from models.etcd import check_history
from models.history import StatusRecord
from tests.common.builders import H, kv, put_ev


def test_in_flight_becomes_unknown_and_later_records_go() -> None:
    h = H()
    h.put("a", "1", 2, 10, 20)
    h.put("b", "1", 3, 30, 40)
    h.put("c", "1", 4, 50, 60)
    h.watch(0, [("events", [put_ev("a", "1", 2)])], start=2)
    h.statuses.append(StatusRecord(time=100, member="m1", revision=4))
    short = cut(h.history(), 35)
    assert [(o.id, o.status, o.ret) for o in short.ops] == [(0, "ok", 20), (1, "unknown", None)]
    assert not short.statuses and not short.finished
    assert all(w.time <= 35 for w in short.watches)
    assert check_history(short).verdict == "ok"


def test_a_violation_recorded_before_the_cut_is_kept() -> None:
    h = H()
    h.put("a", "1", 2, 10, 20)
    h.put("a", "2", 3, 30, 40, client=0)
    h.get("a", 2, [kv("a", "1", 2)], 50, 60)  # stale: a=2@3 returned at 40
    h.put("b", "1", 4, 70, 80)
    assert check_history(cut(h.history(), 65)).verdict == "illegal"
    assert check_history(cut(h.history(), 45)).verdict == "ok"
