"""Real histories recorded by the harness, re-checked from the saved file (no cluster):
findings of real etcd bugs must stay findings, and histories that once raised a false
alarm must stay clean. Each directory under tests/data/regressions holds the (cut,
compressed) history, the plan that produced it and what the checks must say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.history.jsonl import read_history
from harness.traffic.plan import Plan
from models.etcd import check_history

CASES = sorted((Path(__file__).resolve().parents[2] / "data" / "regressions").iterdir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_saved_history_gets_its_verdict(case: Path) -> None:
    expect = json.loads((case / "expect.json").read_text())
    hist = read_history(str(case / "history.jsonl.xz"))
    plan = Plan.from_json((case / "plan.json").read_bytes())
    assert (plan.seed, plan.scenario) == (hist.header.seed, hist.header.scenario)
    v = check_history(hist)
    assert v.verdict == expect["verdict"], v.summary()
    if "kinds" in expect:
        assert v.kinds() == set(expect["kinds"]), v.summary()
    if "known_bugs" in expect:
        assert v.known_bugs() == expect["known_bugs"]
        assert len(v.unexplained) == expect["unexplained"]
    for key, value in expect.get("details", {}).items():
        assert any(a.details.get(key) == value for a in v.anomalies), (key, value, v.summary())
