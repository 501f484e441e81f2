"""`etcd-harness shrink` on input it cannot shrink: one line, exit 2, nothing started."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.traffic.plan import Plan, make_plan
from scenarios import get_scenario


def run_dir(path: Path, summary: dict[str, object] | None, plan: bytes | None = None) -> Path:
    path.mkdir()
    (path / "plan.json").write_bytes(
        plan if plan is not None else make_plan(get_scenario("smoke"), 1).to_json()
    )
    if summary is not None:
        (path / "summary.json").write_text(json.dumps(summary))
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "not a run directory"),
        (lambda p: run_dir(p / "r", {"verdict": "ok", "anomalies": []}), "nothing to shrink"),
        (lambda p: run_dir(p / "r", {"verdict": "illegal"}, b"{not json"), "not a plan"),
        (lambda p: run_dir(p / "r", None), "no summary.json and no readable history"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, make: object, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    assert main(["shrink", str(path), "--no-progress"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in captured.err
    assert not (tmp_path / "r-shrunk").exists()


def test_bad_tries_and_an_occupied_output_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    anomaly = {"kind": "lost-write", "message": "m", "details": {}}
    path = run_dir(tmp_path / "r", {"verdict": "illegal", "anomalies": [anomaly]})
    assert main(["shrink", str(path), "--tries", "0"]) == 2
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("")
    assert main(["shrink", str(path), "--out", str(busy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--tries" in err[0] and "not empty" in err[1]


def test_progress_without_a_terminal_is_one_plain_line_per_run(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli.shrink import Display
    from harness.shrink.candidates import size
    from harness.shrink.search import Event, Trial

    plan = make_plan(get_scenario("smoke"), 1)
    ev = Event("0003-clients-try2", "clients", 2, Trial(False, note="ok"), 3, 5, size(plan), 812, 61.0, 900.0)
    with Display(live=False) as display:
        display.update(ev)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"shrink 0003-clients-try2: not reproduced (ok) in 0 s; candidates 3, runs 5; "
        f"best 812 ops, {size(plan).text()}; 61/900 s"
    ]


def test_the_command_end_to_end_over_a_fake_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The wiring without etcd: a run "fails" while client 2 is in the plan."""
    from types import SimpleNamespace

    anomaly = {"kind": "lost-write", "message": "lost", "details": {}}

    def run(opts: Any) -> Any:
        out = Path(opts.out)
        out.mkdir(parents=True)
        failing = any(c.client == 2 for c in opts.plan.clients)
        summary = {
            "verdict": "illegal" if failing else "ok",
            "ops": 10 * len(opts.plan.clients),
            "anomalies": [anomaly] if failing else [],
        }
        (out / "plan.json").write_bytes(opts.plan.to_json())
        (out / "summary.json").write_text(json.dumps(summary))
        return SimpleNamespace(
            interrupted=None, verdict=summary["verdict"], anomalies=summary["anomalies"], summary=summary
        )

    monkeypatch.setattr("harness.runner.run", run)
    plan = make_plan(get_scenario("selftest"), 1)
    source = run_dir(
        tmp_path / "r", {"verdict": "illegal", "ops": 80, "anomalies": [anomaly]}, plan.to_json()
    )
    assert main(["shrink", str(source), "--tries", "1", "--no-progress"]) == 0
    out = tmp_path / "r-shrunk"
    shrunk = Plan.from_json((out / "plan.json").read_bytes())
    assert [c.client for c in shrunk.clients] == [2] and shrunk.watchers == []
    record = json.loads((out / "shrink.json").read_text())
    assert (record["original"]["operations"], record["final"]["operations"]) == (80, 10)
    assert record["reproduction_rate"]["text"] == "reproduced 1 of 1"
    assert (out / "candidates" / "0001-original-try1" / "summary.json").exists()
    assert sorted(p.name for p in (out / "candidates").iterdir())[-1] == "rate-1"
    printed = capsys.readouterr()
    assert "80 -> 10 ops, 8 -> 1 clients" in printed.out
    assert "shrink 0001-original-try1: reproduced" in printed.err
