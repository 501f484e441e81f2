"""Runs over mixed builds: a per-member build list reaches every member and the plan (so
that ``reproduce`` starts the same builds), and a version change etcd would refuse stops
the run before any cluster starts."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from harness.cluster.binaries import BinaryError, resolve
from harness.errors import UsageError
from harness.history.jsonl import read_history
from harness.runner import RunOptions, run
from harness.traffic.plan import FaultStep, Plan, make_plan
from scenarios import get_scenario

pytestmark = [pytest.mark.integration]


def need(*versions: str) -> None:
    for v in versions:
        try:
            resolve(v)
        except BinaryError as exc:
            pytest.skip(f"etcd {v} unavailable: {exc}")


def test_a_mixed_cluster_runs_each_members_build_and_reproduces_it(tmp_path: Path) -> None:
    need("3.4.23", "3.5.1")
    out = tmp_path / "mixed"
    opts = RunOptions(
        scenario="smoke", seed=3, etcd_version="3.5.1,3.4.23,3.5.1", out=str(out), progress=False
    )
    res = run(opts)
    assert res.verdict in ("ok", "illegal") and not [
        a for a in res.anomalies if "known_bug" not in a.get("details", {})
    ]
    assert res.summary["member_versions"] == {"m0": ["3.5.1"], "m1": ["3.4.23"], "m2": ["3.5.1"]}
    assert res.summary["etcd_versions"] == ["3.4.23", "3.5.1"]
    plan = Plan.from_json((out / "plan.json").read_bytes())
    assert plan.etcd_versions == ["3.5.1", "3.4.23", "3.5.1"]
    again = run(RunOptions(scenario="smoke", seed=3, plan=plan, out=str(tmp_path / "again"), progress=False))
    assert again.summary["member_versions"] == res.summary["member_versions"]
    assert "m1 (3.4.23)" in (out / "report.html").read_text()


def test_a_downgrade_etcd_refuses_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    need("3.4.23", "3.5.1")
    plan = make_plan(get_scenario("upgrade-3.4-to-3.5"), 1)
    up = [
        FaultStep(
            at=2.0 + 4 * i, fault="upgrade", target="next", duration=0.5, pick=i, params={"to": "3.5.1"}
        )
        for i in range(3)
    ]
    back = FaultStep(at=16.0, fault="upgrade", target="m1", duration=0.5, pick=9, params={"to": "3.4.23"})
    plan = msgspec.structs.replace(plan, faults=[*up, back])
    with pytest.raises(UsageError, match="does not take a member back to 3.4"):
        run(RunOptions(scenario=plan.scenario, seed=1, plan=plan, out=str(tmp_path / "x"), progress=False))
    assert not (tmp_path / "x").exists()


def test_the_command_line_cannot_override_a_scenarios_own_builds(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="starts on the builds it names"):
        run(RunOptions(scenario="upgrade-3.4-to-3.5", seed=1, etcd_version="3.5.1", out=str(tmp_path / "y")))


@pytest.mark.parametrize("backend", ["process", pytest.param("docker", marks=pytest.mark.docker)])
def test_a_tls_run_checks_like_any_other_and_reproduces_over_tls(backend: str, tmp_path: Path) -> None:
    from tests.common.backends import require_backend

    require_backend(backend)
    need("3.4.23")
    out = tmp_path / "tls"
    opts = RunOptions(
        scenario="smoke",
        seed=2,
        etcd_version="3.4.23",
        backend=backend,
        tls=True,
        out=str(out),
        progress=False,
    )
    res = run(opts)
    assert res.verdict == "ok", res.anomalies[:3]
    assert res.summary["faults"], "the kill was not injected"
    hist = read_history(out / "history.jsonl")
    assert hist.header.cluster["tls"] is True
    assert {op.member for op in hist.ops if op.member} and all(
        op.member.startswith("https://") for op in hist.ops if op.member
    )
    assert Plan.from_json((out / "plan.json").read_bytes()).tls is True
