"""Each named scenario passes on etcd 3.4.23 with a fixed seed: no anomaly that a known
bug of 3.4.23 does not explain. Those bugs stay reported, by name, and only where the
scenario's faults can set them off: 3.4.23 carries etcd-io/etcd#15220 and #18089 (any
traffic with progress requests or compactions), #15247 and #20418 (a paused leader),
#15271 (a partition) and #17780 (a kill), and which of them a run meets is timing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.cluster.binaries import BinaryError
from harness.history.jsonl import read_history
from harness.runner import RunOptions, run
from scenarios import SCENARIOS

ETCD = "/usr/bin/etcd"
ANY_TRAFFIC = {"etcd-io/etcd#15220", "etcd-io/etcd#18089"}
SET_OFF_BY = {
    "pause": {"etcd-io/etcd#15247", "etcd-io/etcd#20418"},
    "partition": {"etcd-io/etcd#15271"},
    "kill": {"etcd-io/etcd#17780"},
}
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(ETCD), reason="etcd 3.4 (Debian's etcd-server) not installed"),
]


@pytest.mark.parametrize("name", sorted(n for n, s in SCENARIOS.items() if not s.etcd_versions))
def test_scenario_passes_on_3_4(name: str, tmp_path: Path) -> None:
    res = run(RunOptions(scenario=name, seed=1, etcd=ETCD, out=str(tmp_path / name), progress=False))
    unexplained = [a for a in res.anomalies if "known_bug" not in a.get("details", {})]
    assert not unexplained, "\n".join(a["message"] for a in unexplained[:5])
    assert res.verdict in ("ok", "illegal")
    faults = {f.name for f in SCENARIOS[name].faults}
    possible = ANY_TRAFFIC.union(*(SET_OFF_BY.get(f, set()) for f in faults))
    assert set(res.summary["known_bugs"]) <= possible
    assert res.summary["ops"] > 100


@pytest.mark.parametrize("name", sorted(n for n, s in SCENARIOS.items() if s.etcd_versions))
def test_scenario_on_its_own_builds_passes(name: str, tmp_path: Path) -> None:
    """Deployment scenarios start on the builds they name; every member's builds, in
    order, are in the summary, and the cluster version was sampled all along."""
    scn = SCENARIOS[name]
    try:
        res = run(RunOptions(scenario=name, seed=1, out=str(tmp_path / name), progress=False))
    except BinaryError as exc:
        pytest.skip(f"a build of {name} is unavailable: {exc}")
    unexplained = [a for a in res.anomalies if "known_bug" not in a.get("details", {})]
    assert not unexplained, "\n".join(a["message"] for a in unexplained[:5])
    assert res.verdict in ("ok", "illegal")
    builds = res.summary["member_versions"]
    assert [b[0] for b in builds.values()] == list(scn.etcd_versions)
    upgrades = {str(dict(f.params)["to"]) for f in scn.faults if f.name == "upgrade"}
    if upgrades:
        assert all(b[-1] in upgrades for b in builds.values()), builds
    hist = read_history(tmp_path / name / "history.jsonl")
    assert sum(1 for s in hist.statuses if s.cluster_version) > 10
