"""A real shrink, quickly: a self-test bug injected in front of every member makes a run
fail every time, and the shrink must leave fewer operations that still fail."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.cli import main
from harness.cluster import ClusterConfig, make_cluster
from harness.cluster.binaries import EtcdBinary
from harness.runner import RunOptions, run
from harness.selftest.bugs import BUGS
from harness.selftest.interposer import Interposer
from harness.shrink.live import Target
from harness.shrink.output import write_output
from harness.shrink.search import Search, Trial
from harness.traffic.plan import Plan, make_plan
from harness.traffic.watchers import PROGRESS_NOTIFY_FLAG
from scenarios import get_scenario

ETCD = "/usr/bin/etcd"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists(ETCD), reason="etcd 3.4 (Debian's etcd-server) not installed"),
]


@dataclass
class InjectedBug:
    """Runs a plan against interposers that flip the branch txns report: the
    self-test's way of making etcd misbehave, here for the shrinker to chase."""

    root: Path
    target: Target | None = None
    bug: str = "txn-wrong-branch"

    def __call__(self, plan: Plan, label: str) -> Trial:
        out = self.root / label
        cfg = ClusterConfig(size=plan.members, extra_flags=[PROGRESS_NOTIFY_FLAG])
        cluster = make_cluster(
            "process", plan.members, EtcdBinary(ETCD, "3.4.23"), out / "cluster", config=cfg
        )
        with cluster:
            bugs = [
                BUGS[self.bug](member=i, seed=1, window=max(1.0, plan.duration - 2.5))
                for i in range(plan.members)
            ]
            proxies = [Interposer(ep, b).start() for ep, b in zip(cluster.endpoints(), bugs, strict=True)]
            try:
                for b in bugs:
                    b.arm()
                opts = RunOptions(
                    scenario=plan.scenario,
                    seed=plan.seed,
                    plan=plan,
                    endpoints=[p.endpoint for p in proxies],
                    out=str(out / "run"),
                    progress=False,
                    check_timeout=60.0,
                )
                res = run(opts)
            finally:
                for p in proxies:
                    with contextlib.suppress(Exception):
                        p.stop()
        found = res.verdict == "illegal" if self.target is None else self.target.found_in(res.anomalies)
        return Trial(found, out / "run", res.summary.get("ops"), res.verdict)


def test_shrinks_an_injected_bug_to_fewer_operations_that_still_fail(tmp_path: Path) -> None:
    reproduce = InjectedBug(tmp_path / "candidates")
    first = reproduce(make_plan(get_scenario("selftest"), 3), "original")
    assert first.reproduced and first.run_dir is not None
    summary = json.loads((first.run_dir / "summary.json").read_text())
    target = Target.from_summary(summary)
    assert target is not None
    reproduce.target = target

    plan = Plan.from_json((first.run_dir / "plan.json").read_bytes())
    outcome = Search(plan, reproduce, tries=2, budget=100.0, only={"duration", "clients", "watchers"}).run()
    out = tmp_path / "shrunk"
    record = write_output(out, outcome, first.run_dir, target)

    assert outcome.best_trial is not None, outcome
    assert record["final"]["operations"] < record["original"]["operations"]
    assert len(outcome.best.clients) < len(plan.clients) or outcome.best.duration < plan.duration
    assert outcome.rate is not None and outcome.rate[0] >= 1, outcome.rate
    compile((out / "test_reproduction.py").read_text(), "test_reproduction.py", "exec")
    assert "Clients" in (out / "reproduction.txt").read_text()
    # Without the interposer the shrunk plan is an ordinary passing run: the failure was the
    # bug's; so the generated tests run, and pass, on a healthy etcd.
    again = ["reproduce", str(out), "--etcd", ETCD, "--no-progress", "--out", str(tmp_path / "again")]
    assert main(again) == 0
    generated = [str(out / "test_reproduction.py")]
    if len(outcome.best.clients) == 1 and not outcome.best.watchers:
        assert (out / "test_recorded_calls.py").exists()
        generated.append(str(out / "test_recorded_calls.py"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *generated]
    done = subprocess.run(cmd, cwd=out, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    assert f"{len(generated)} passed" in done.stdout
