"""What counts as the same failure, and how a live run's outcome becomes a try."""

from __future__ import annotations

import signal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.errors import UsageError
from harness.shrink.live import LiveReproducer, Target
from harness.traffic.plan import make_plan
from scenarios import get_scenario

BUG = {"kind": "watch-bad-start", "message": "m", "details": {"known_bug": {"id": "etcd-io/etcd#18089"}}}
PLAN = make_plan(get_scenario("smoke"), 1)


def test_the_same_kind_and_the_same_known_bug() -> None:
    target = Target.from_summary({"verdict": "illegal", "anomalies": [BUG]})
    assert target == Target("watch-bad-start", "etcd-io/etcd#18089")
    assert target.found_in([{"kind": "lost-write"}, BUG])
    other_bug = {**BUG, "details": {"known_bug": {"id": "etcd-io/etcd#15271"}}}
    assert not target.found_in([other_bug, {"kind": "watch-bad-start", "details": {}}])
    assert Target("watch-bad-start").found_in([other_bug])
    assert Target.from_summary({"verdict": "ok", "anomalies": []}) is None


def fake_run(monkeypatch: pytest.MonkeyPatch, **result: Any) -> list[Any]:
    seen: list[Any] = []

    def run(opts: Any) -> Any:
        seen.append(opts)
        if "raises" in result:
            raise result["raises"]
        fields: dict[str, Any] = {
            "interrupted": None,
            "anomalies": [],
            "verdict": "ok",
            "summary": {"ops": 12},
        }
        return SimpleNamespace(**{**fields, **result})

    monkeypatch.setattr("harness.runner.run", run)
    return seen


def test_a_run_in_its_own_directory_with_the_plan_and_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen = fake_run(monkeypatch, verdict="illegal", anomalies=[BUG])
    trial = LiveReproducer(Target("watch-bad-start"), tmp_path, etcd_version="3.4.23")(
        PLAN, "0002-clients-try1"
    )
    assert trial.reproduced and trial.run_dir == tmp_path / "0002-clients-try1" and trial.ops == 12
    assert seen[0].plan is PLAN and seen[0].etcd_version == "3.4.23" and seen[0].out == str(trial.run_dir)
    assert trial.note == "illegal (watch-bad-start)"


def test_an_interrupted_run_stops_the_shrink(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_run(monkeypatch, interrupted=signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt) as exc:
        LiveReproducer(Target("lost-write"), tmp_path)(PLAN, "x")
    assert getattr(exc.value, "signum", None) == signal.SIGTERM


def test_a_cluster_that_would_not_start_is_a_failed_try(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_run(monkeypatch, raises=UsageError("cannot write to /x: No space left on device"))
    trial = LiveReproducer(Target("lost-write"), tmp_path)(PLAN, "x")
    assert not trial.reproduced and "No space left" in trial.note
