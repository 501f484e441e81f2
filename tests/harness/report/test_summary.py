from __future__ import annotations

from harness.history.importers import load_history
from harness.report.summary import fault_windows, op_counts, percentile, summarize, time_unit
from models.history import History


def test_counts_by_kind_and_status(ok_history: History) -> None:
    counts = op_counts(ok_history.ops)
    assert counts["write"] == {"ok": 2, "fail": 1, "unknown": 1, "total": 4}
    assert counts["total"]["total"] == 7
    assert list(counts)[-1] == "total"


def test_fault_window_without_end_lasts_to_the_end(ok_history: History) -> None:
    windows = fault_windows(ok_history)
    assert [(w.kind, w.open) for w in windows] == [("kill", False), ("partition", True)]
    assert windows[1].end == 30_000_000


def test_summary_in_ns_has_qps_and_latency(ok_history: History) -> None:
    s = summarize(ok_history)
    assert s["time_unit"] == "ns" and s["duration_s"] == 0.03
    assert s["qps"] == round(7 / 0.03, 1)
    assert s["latency_ms"]["p50"] == 2.0
    assert s["members"] == ["m1", "m2", "m3"]


def test_imported_history_has_no_qps(shared_histories) -> None:  # type: ignore[no-untyped-def]
    hist = load_history(str(shared_histories / "jepsen-edn/cas-failure.edn"))
    s = summarize(hist)
    assert time_unit(hist) == "event" and s["qps"] is None and s["duration_events"] > 0


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([1, 2, 3, 4, 5], 50) == 3
    assert percentile([1, 2, 3, 4, 5], 100) == 5
