"""The shrink's files, from a fake outcome: what reproduce, a person and pytest read."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from harness.shrink.live import Target
from harness.shrink.output import write_output
from harness.shrink.search import Outcome, Trial
from harness.traffic.plan import Plan, make_plan
from scenarios import get_scenario

ORIGINAL = make_plan(get_scenario("watch-compaction"), 5)
SHRUNK = msgspec.structs.replace(
    ORIGINAL, clients=ORIGINAL.clients[2:3], watchers=ORIGINAL.watchers[:1], faults=ORIGINAL.faults[:1]
)
ANOMALY = {
    "kind": "watch-bad-start",
    "message": "watch 7 resumed at 120 and missed the DELETE at 120",
    "details": {"known_bug": {"id": "etcd-io/etcd#18089"}},
}


def run_dir(path: Path, plan: Plan, ops: int) -> Path:
    path.mkdir(parents=True)
    (path / "plan.json").write_bytes(plan.to_json())
    (path / "history.jsonl").write_text("{}\n")
    summary = {"verdict": "illegal", "ops": ops, "anomalies": [ANOMALY]}
    (path / "summary.json").write_text(json.dumps(summary))
    return path


def test_the_best_run_is_the_main_content_with_figures_text_and_a_test(tmp_path: Path) -> None:
    source = run_dir(tmp_path / "run", ORIGINAL, 30_000)
    out = tmp_path / "shrunk"
    best = run_dir(out / "candidates" / "0007-clients-try2", SHRUNK, 120)
    outcome = Outcome(ORIGINAL, SHRUNK, Trial(True, best, 120), 9, 14, "done", 300.0, rate=(2, 3))
    target = Target.from_summary(json.loads((source / "summary.json").read_text()))
    assert target == Target("watch-bad-start", "etcd-io/etcd#18089")

    record = write_output(out, outcome, source, target)

    assert Plan.from_json((out / "plan.json").read_bytes()) == SHRUNK
    assert (out / "history.jsonl").exists() and (out / "best").resolve() == best.resolve()
    saved = json.loads((out / "shrink.json").read_text())
    assert saved == record
    assert (saved["original"]["operations"], saved["final"]["operations"]) == (30_000, 120)
    assert (saved["original"]["clients"], saved["final"]["clients"]) == (16, 1)
    assert saved["final"]["programs"] == {"2": len(SHRUNK.clients[0].program)}
    assert saved["reproduction_rate"] == {"reproduced": 2, "runs": 3, "text": "reproduced 2 of 3"}
    text = (out / "reproduction.txt").read_text()
    fault = SHRUNK.faults[0]
    assert f"at {fault.at:g} s: kill on random" in text
    assert "client 2 (" in text and "watcher 0 on member 0" in text
    assert "etcd-io/etcd#18089" in text and "reproduced 2 of 3" in text
    source_code = (out / "test_reproduction.py").read_text()
    compile(source_code, "test_reproduction.py", "exec")
    namespace: dict[str, object] = {}
    exec(compile(source_code, "test_reproduction.py", "exec"), namespace)
    assert Plan.from_json(str(namespace["PLAN"]).encode()) == SHRUNK
    assert namespace["KNOWN_BUG"] == "etcd-io/etcd#18089"
    assert not (out / "test_recorded_calls.py").exists(), "a plan with faults is not one client's calls"


def test_without_a_smaller_reproduction_the_original_run_stays_the_content(tmp_path: Path) -> None:
    source = run_dir(tmp_path / "run", ORIGINAL, 30_000)
    out = tmp_path / "shrunk"
    out.mkdir()
    outcome = Outcome(ORIGINAL, ORIGINAL, None, 4, 12, "budget", 100.0, rate=(0, 0))
    record = write_output(out, outcome, source, Target("watch-bad-start"))
    assert Plan.from_json((out / "plan.json").read_bytes()) == ORIGINAL
    assert record["reproduction_rate"]["text"] == "not measured"
    assert not (out / "best").exists()


def test_the_fault_log_says_when_and_which_members() -> None:
    from types import SimpleNamespace

    from harness.shrink.output import fault_log
    from models.history import FaultRecord

    faults = [
        FaultRecord(id=1, phase="start", kind="kill", time=1_873_000_000, targets=["m2"]),
        FaultRecord(id=1, phase="end", kind="kill", time=3_423_000_000, targets=["m2"]),
        FaultRecord(id=2, phase="start", kind="pause", time=4_000_000_000, targets=["m0"]),
    ]
    lines = fault_log(SimpleNamespace(faults=faults))  # type: ignore[arg-type]
    assert lines[1:3] == ["  1.873 s: kill m2 until 3.423 s", "  4.000 s: pause m0 (never healed)"]
