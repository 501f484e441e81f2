"""`run`, `reproduce` and `matrix` in-process, with their exit codes and artifacts."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cli import main

ETCD = "/usr/bin/etcd"
integration = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists(ETCD), reason="etcd 3.4 (Debian's etcd-server) not installed"),
]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "smok"], "did you mean 'smoke'"),
        (["run", "smoke", "--etcd", "/nonexistent/etcd"], "etcd binary not found"),
        (["run", "smoke", "--etcd-version", "9.9.9"], "9.9.9"),
        (["reproduce", "/nonexistent/run"], "cannot read"),
        (["matrix", "--scenarios", "nope"], "unknown scenario 'nope'"),
        (["explore", "--endpoints", "http://127.0.0.1:1"], "cannot test --endpoints"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 2 and message in err[-1] and "Traceback" not in "".join(err)


@pytest.mark.integration
@pytest.mark.skipif(not os.path.exists(ETCD), reason="etcd 3.4 (Debian's etcd-server) not installed")
def test_run_then_reproduce_the_same_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main(
        ["run", "smoke", "--seed", "5", "--etcd", ETCD, "--duration", "4", "--out", str(out), "--no-progress"]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert printed.strip().splitlines()[-1] == f"reproduce: etcd-harness reproduce {out}"
    assert main(["reproduce", str(out), "--etcd", ETCD, "--no-progress"]) == 0
    again = tmp_path / "run-reproduced"
    assert (again / "plan.json").read_bytes() == (out / "plan.json").read_bytes()
    assert json.loads((again / "summary.json").read_text())["seed"] == 5


@pytest.mark.integration
@pytest.mark.skipif(not os.path.exists(ETCD), reason="etcd 3.4 (Debian's etcd-server) not installed")
def test_matrix_stops_within_its_budget_and_writes_junit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "junit.xml"
    code = main(
        [
            "matrix",
            "--scenarios",
            "smoke",
            "--versions",
            "3.4.23",
            "--duration",
            "3",
            "--budget",
            "30",
            "--seed",
            "7",
            "--junit",
            str(junit),
            "--out",
            str(tmp_path / "m"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    suite = ET.parse(junit).getroot()
    cases = suite.findall("testcase")
    assert cases and int(suite.get("tests", "0")) == len(cases) and suite.get("failures") == "0"
    summary = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert [r["verdict"] for r in summary["runs"]] == ["ok"] * len(cases)
    assert not any((tmp_path / "m").glob("smoke-*")), "passing runs leave only their summary line"


def _explored_seed(members: int, fault: str) -> int:
    from harness.cluster.binaries import supported_flags
    from harness.traffic.explore import explore_scenario

    flags = supported_flags(ETCD)
    for seed in range(500):
        scn = explore_scenario(seed, flags)
        if scn.members == members and fault in {f.name for f in scn.faults}:
            return seed
    raise AssertionError(f"no seed below 500 draws {members} members with {fault}")


@pytest.mark.integration
@pytest.mark.skipif(not os.path.exists(ETCD), reason="etcd 3.4 (Debian's etcd-server) not installed")
def test_explore_runs_what_it_drew_and_reproduce_replays_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A single-member cluster that gets kills: a drawn configuration no scenario names."""
    seed, out = _explored_seed(1, "kill"), tmp_path / "ex"
    argv = ["--etcd", ETCD, "--no-progress", "--allow-known-bugs"]
    assert main(["explore", "--seed", str(seed), "--duration", "8", "--out", str(out), *argv]) == 0
    assert capsys.readouterr().out.strip().endswith(f"reproduce: etcd-harness reproduce {out}")
    plan = json.loads((out / "plan.json").read_text())
    assert plan["scenario"] == "explore" and plan["members"] == 1 and plan["drawn"]["members"] == 1
    from harness.history.jsonl import read_history

    cluster = read_history(str(out / "history.jsonl")).header.cluster
    assert cluster["size"] == 1 and cluster["election_ms"] == plan["election_ms"]
    assert set(plan["etcd_args"]) <= set(cluster["etcd_flags"])
    assert cluster["snapshot_count"] == plan["snapshot_count"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["configuration"] == plan["drawn"] and summary["faults"]
    assert main(["reproduce", str(out), *argv]) == 0
    assert (tmp_path / "ex-reproduced" / "plan.json").read_bytes() == (out / "plan.json").read_bytes()


@pytest.mark.integration
@pytest.mark.skipif(not os.path.exists(ETCD), reason="etcd 3.4 (Debian's etcd-server) not installed")
def test_matrix_explore_draws_each_cell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["matrix", "--explore", "--versions", "3.4.23", "--duration", "3", "--budget", "30"]
    code = main([*argv, "--seed", "9", "--allow-known-bugs", "--out", str(tmp_path / "m")])
    out = capsys.readouterr().out
    runs = json.loads((tmp_path / "m" / "summary.json").read_text())["runs"]
    assert code == 0, out
    assert runs and {r["scenario"] for r in runs} == {"explore"}
    assert [r["seed"] for r in runs] == list(range(9, 9 + len(runs))), "a fresh seed per round"
    assert {r["verdict"] for r in runs} <= {"ok", "known-bug"}


def _result(known: list[str], unexplained: int, tmp_path: Path) -> object:
    from harness.runner import RunResult
    from models.anomaly import Anomaly
    from models.verdict import Verdict

    summary = {"ops": 10, "known_bugs": known, "unexplained_anomalies": unexplained, "faults": []}
    verdict = Verdict("illegal", "etcd", [Anomaly("watch-bad-start", "x")])
    return RunResult(tmp_path, verdict, summary, "etcd-harness reproduce x")


@pytest.mark.parametrize(
    ("known", "unexplained", "allow", "code"),
    [
        (["etcd-io/etcd#18089"], 0, True, 0),
        (["etcd-io/etcd#18089"], 0, False, 1),
        (["etcd-io/etcd#18089"], 1, True, 1),
        ([], 1, True, 1),
    ],
)
def test_allow_known_bugs_only_excuses_runs_fully_explained(
    known: list[str],
    unexplained: int,
    allow: bool,
    code: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from harness.cli.run import report_result

    assert report_result(_result(known, unexplained, tmp_path), allow_known_bugs=allow) == code
    out = capsys.readouterr().out
    if known:
        assert "known etcd bugs: etcd-io/etcd#18089" in out
