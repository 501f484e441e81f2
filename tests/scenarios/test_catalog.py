from __future__ import annotations

import pytest

from harness.faults import FAULTS
from harness.traffic.plan import PROFILES
from scenarios import SCENARIOS, UnknownScenario, get_scenario

REQUIRED = [
    "smoke",
    "kill-under-load",
    "pause-leader",
    "partition-leader",
    "partition-minority",
    "peer-delay",
    "member-replace",
    "kubernetes-compaction",
    "issue-13766",
]


def test_required_scenarios_exist() -> None:
    assert set(REQUIRED) <= set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_use_known_faults_and_profiles(name: str) -> None:
    scn = SCENARIOS[name]
    assert scn.profile in PROFILES
    for f in scn.faults:
        assert f.name in FAULTS, f.name
        assert 0 <= f.min_duration <= f.max_duration


def test_unknown_scenario_suggests_a_name() -> None:
    with pytest.raises(UnknownScenario, match="did you mean 'smoke'"):
        get_scenario("smok")
