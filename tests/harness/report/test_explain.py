from __future__ import annotations

from pathlib import Path

from harness.history.importers import load_history
from harness.report import explain, time_unit
from models.anomaly import Anomaly
from models.check import check
from models.history import History
from models.verdict import Verdict


def test_ok_history_needs_no_explanation(ok_history: History) -> None:
    assert explain(check(ok_history), ok_history.ops) == []


def test_witness_lines_name_times_expected_and_observed(bad_history: History) -> None:
    lines = explain(check(bad_history), bad_history.ops)
    text = "\n".join(lines)
    assert "op 4 (client 1) read -> 1 cannot follow state value=2" in text
    assert "10.000..12.000 ms" in text
    assert "expected: read -> 2" in text and "observed: read -> 1" in text
    assert "write 2" in text  # the write the read should have seen


def test_imported_history_speaks_of_events(shared_histories: Path) -> None:
    hist = load_history(str(shared_histories / "jepsen-edn/cas-failure.edn"))
    text = "\n".join(explain(check(hist), hist.ops, unit=time_unit(hist)))
    assert "op 244" in text and "events 489..492" in text and "expected: read -> 2" in text


def test_anomaly_explanation_from_the_etcd_checker_shape(bad_history: History) -> None:
    anomalies = [
        Anomaly(
            "stale-read",
            "op 1 read revision 1 after revision 3 was acknowledged",
            [1, 2],
            members=["m2"],
            details={"expected": {"revision": 3}, "observed": {"revision": 1}},
        ),
        Anomaly("watch-gap", "watch 1 skipped revision 2", [], watch=1),
    ]
    text = "\n".join(explain(Verdict("illegal", "etcd", anomalies), bad_history.ops))
    assert "[stale-read] op 1 read revision 1" in text
    assert "op 1: client 1 on m2" in text and "members: m2" in text
    assert "expected: {'revision': 3}" in text and "observed: {'revision': 1}" in text
    assert "1 more anomaly: watch-gap" in text
