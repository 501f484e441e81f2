"""Exploration draws whole configurations: deterministic per seed, inside the build's
flags and etcd's own rules, and spread over the whole space the menu offers."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.faults import make_fault
from harness.runner import _settings
from harness.traffic.explore import FLAGS, KINDS, describe, explore_scenario
from harness.traffic.ops import LOOKUPS, RENEWALS, SHAPED
from harness.traffic.plan import Plan, make_plan
from scenarios import get_scenario

ALL_FLAGS = frozenset({*FLAGS, "--snapshot-count", "--max-request-bytes"})
SEEDS = range(60)


@pytest.fixture(scope="module")
def drawn() -> list:
    return [explore_scenario(s, ALL_FLAGS) for s in SEEDS]


def test_a_seed_draws_the_same_configuration_and_plan_every_time() -> None:
    a, b = explore_scenario(41, ALL_FLAGS), explore_scenario(41, ALL_FLAGS)
    assert a == b
    assert make_plan(a, 41) == make_plan(b, 41)


def test_seeds_spread_over_sizes_profiles_faults_and_flags(drawn: list) -> None:
    assert {s.members for s in drawn} == {1, 3, 5}
    assert {s.profile for s in drawn} == {"kv", "kubernetes", "watch"}
    faults = Counter(f.name for s in drawn for f in s.faults)
    assert set(faults) == {
        "kill",
        "pause",
        "partition",
        "loss",
        "delay",
        "replace",
        "defrag",
        "compact",
        "crash-during",
        "partition-snapshot",
        "pause-loss",
        "replace-kill",
    }
    assert {s.value_kb for s in drawn} == {0, 10, 100}
    ttl_pauses = [f for s in drawn for f in s.faults if f.name == "pause" and f.min_duration > s.lease_ttl]
    assert ttl_pauses, "a leader paused for longer than the lease TTL"
    assert any(len({f.name for f in s.faults}) >= 3 for s in drawn), "schedules compose fault kinds"
    flags = {a.partition("=")[0] for s in drawn for a in s.etcd_args}
    assert flags == set(FLAGS) | {"--max-request-bytes"}
    assert {s.snapshot_count for s in drawn} >= {10, 100_000}
    assert {k for s in drawn for k, _ in s.op_mix} == set(KINDS) | set(RENEWALS) | set(SHAPED) | set(LOOKUPS)


def test_some_watchers_ask_for_fragments_where_responses_may_be_split(drawn: list) -> None:
    fragmenting = [(seed, s) for seed, s in zip(SEEDS, drawn, strict=True) if s.fragment_watchers]
    assert fragmenting and all(s.watchers_per_member for _, s in fragmenting)
    assert all(any(a.startswith("--max-request-bytes=") for a in s.etcd_args) for _, s in fragmenting)
    plans = [make_plan(s, seed) for seed, s in fragmenting]
    asked = [w.fragment for p in plans for w in p.watchers]
    assert any(asked) and not all(asked)
    assert not any(
        w.fragment
        for seed, s in zip(SEEDS, drawn, strict=True)
        for w in make_plan(s, seed).watchers
        if not s.fragment_watchers
    )


def test_only_flags_the_build_lists_are_drawn() -> None:
    for s in SEEDS:
        bare = explore_scenario(s, frozenset())
        assert bare.etcd_args == () and bare.snapshot_count is None
        one = explore_scenario(s, frozenset({"--pre-vote"}))
        assert all(a.startswith("--pre-vote=") for a in one.etcd_args)


def test_drawn_settings_are_ones_etcd_and_the_faults_accept(drawn: list) -> None:
    for s in drawn:
        assert s.election_ms >= 5 * s.heartbeat_ms, "etcd refuses an election timeout under 5 heartbeats"
        assert any(w for _, w in s.op_mix)
        lo, hi = s.fault_interval
        assert 0 < lo < hi
        for choice in s.faults:
            for target in choice.targets:
                make_fault(choice.name, target=target, **dict(choice.params))
            if s.members == 1:
                assert choice.name not in ("partition", "loss", "delay", "replace")
                assert not {"follower", "restarted", "minority"} & set(choice.targets)


def test_the_plan_records_what_was_drawn_and_replays_it() -> None:
    scn = explore_scenario(5, ALL_FLAGS, duration=12.0)
    plan = Plan.from_json(make_plan(scn, 5, drawn=describe(scn)).to_json())
    assert plan.scenario == "explore" and plan.duration == 12.0 and plan.members == scn.members
    assert plan.drawn["etcd_args"] == list(scn.etcd_args)
    assert plan.drawn["faults"] and plan.drawn["op_mix"] == dict(scn.op_mix)
    blank = get_scenario("smoke")
    replayed = _settings(plan, blank)
    assert replayed.etcd_args == scn.etcd_args
    assert (replayed.snapshot_count, replayed.heartbeat_ms, replayed.election_ms) == (
        scn.snapshot_count,
        scn.heartbeat_ms,
        scn.election_ms,
    )
    assert replayed.fault_health_checks == scn.fault_health_checks


def test_a_plan_from_before_settings_were_recorded_uses_its_scenario() -> None:
    scn = get_scenario("issue-13766")
    old = msgspec_without(make_plan(scn, 1), "etcd_args", "fault_health_checks")
    assert old.etcd_args is None
    assert _settings(old, scn) is scn


def msgspec_without(plan: Plan, *fields: str) -> Plan:
    import msgspec

    raw = msgspec.json.decode(plan.to_json())
    for f in fields:
        raw.pop(f)
    return msgspec.json.decode(msgspec.json.encode(raw), type=Plan)
