"""The reductions: each one smaller, still a runnable plan, and the same operations for
what it keeps."""

from __future__ import annotations

import msgspec
import pytest

from harness.shrink.candidates import (
    MIN_DURATION,
    chunk_removals,
    fewer_members,
    first_candidates,
    list_parts,
    problems,
    shorter_duration,
    size,
    smaller_values,
    strictly_smaller,
)
from harness.traffic.plan import Plan, make_plan
from scenarios import get_scenario

SCENARIOS = ["watch-compaction", "issue-13766", "selftest", "kubernetes-compaction"]


@pytest.fixture(params=SCENARIOS)
def plan(request: pytest.FixtureRequest) -> Plan:
    scn = get_scenario(request.param)
    return make_plan(scn, 7, members=5) if request.param == "selftest" else make_plan(scn, 7)


def test_every_first_candidate_is_smaller_valid_and_round_trips(plan: Plan) -> None:
    cands = first_candidates(plan)
    assert len(cands) > 5
    for name, cand in cands:
        assert strictly_smaller(cand, plan), name
        assert problems(cand) == [], name
        assert Plan.from_json(cand.to_json()) == cand, name


def test_cuts_keep_client_ids_and_programs_of_the_rest(plan: Plan) -> None:
    part = next(p for p in list_parts(plan) if p.name == "clients")
    rest = chunk_removals(part.get(plan), 4, part.minimum)[1]
    cand = part.put(plan, rest)
    kept = {c.client: c for c in cand.clients}
    assert len(kept) < len(plan.clients)
    assert all(kept[c.client] == c for c in plan.clients if c.client in kept)


def test_chunk_removals_are_ddmin_complements() -> None:
    assert chunk_removals([1, 2, 3, 4], 2) == [[3, 4], [1, 2]]
    assert chunk_removals([1, 2, 3, 4], 4) == [[2, 3, 4], [1, 3, 4], [1, 2, 4], [1, 2, 3]]
    assert chunk_removals([1], 2, minimum=1) == []
    assert chunk_removals([1], 2) == [[]]


def test_members_stay_odd_and_at_least_three_with_faults() -> None:
    plan = make_plan(get_scenario("watch-compaction"), 3, members=7)
    assert plan.faults
    offered = [c.members for c in fewer_members(plan)]
    assert offered == [3, 5]
    for cand in fewer_members(plan):
        assert problems(cand) == []
        assert all(w.member < cand.members for w in cand.watchers)


def test_members_go_down_to_one_without_faults() -> None:
    plan = make_plan(get_scenario("selftest"), 3, members=5)
    assert not plan.faults
    assert [c.members for c in fewer_members(plan)] == [1, 3]


def test_members_stay_when_the_plan_runs_different_builds() -> None:
    plan = msgspec.structs.replace(
        make_plan(get_scenario("selftest"), 3, members=5), etcd_versions=["3.4.23"] * 4 + ["3.5.1"]
    )
    assert fewer_members(plan) == []


def test_shorter_runs_drop_the_faults_that_no_longer_fit() -> None:
    plan = make_plan(get_scenario("watch-compaction"), 3)
    half = shorter_duration(plan)[0]
    assert half.duration == plan.duration / 2
    assert 0 < len(half.faults) < len(plan.faults)
    assert all(f.at + f.duration <= half.duration - 1.0 for f in half.faults)
    tiny = msgspec.structs.replace(plan, duration=MIN_DURATION, faults=[])
    assert shorter_duration(tiny) == []


def test_values_shrink_to_none() -> None:
    plan = msgspec.structs.replace(make_plan(get_scenario("selftest"), 3), value_kb=64)
    assert [p.value_kb for p in smaller_values(plan)] == [0, 32]
    assert smaller_values(msgspec.structs.replace(plan, value_kb=0)) == []


def test_size_counts_what_shrink_json_reports() -> None:
    plan = make_plan(get_scenario("watch-compaction"), 3)
    s = size(plan)
    assert s.clients == 16 and s.watchers == 6 and s.members == 3 and s.duration == 30.0
    assert s.templates == sum(len(c.program) for c in plan.clients)
    assert s.faults == len(plan.faults)
