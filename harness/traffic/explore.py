"""Exploration: the whole run configuration drawn from the seed, not written by hand.

A named scenario fixes what a person thought of; `etcd-harness explore` draws the
cluster size, the etcd flags the build under test supports, the traffic mix and load,
the watchers, and a schedule that composes several fault kinds, all from one seed. What
was drawn becomes an ordinary :class:`Scenario`, so the plan (and ``reproduce``) treat
it like a named one, and the plan records every drawn setting.

Bounds keep a draw inside what a 2-core machine can run and what the checks can judge:
flags only from the build's own ``--help``, raft timing etcd accepts (an election
timeout of at least five heartbeats), faults each member count can take.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from harness.traffic.ops import EXTENDED, LOOKUPS, RENEWALS, SHAPED
from harness.traffic.plan import PROFILES, draw
from scenarios.base import FaultChoice, Scenario

EXPLORE = "explore"

#: Every template kind some profile uses, and those only exploration uses; it weighs them all.
KINDS: tuple[str, ...] = tuple(dict.fromkeys([*(k for mix in PROFILES.values() for k in mix), *EXTENDED]))
WRITE_KINDS = frozenset(
    {"put", "delete", "txn", "cas", "lease-put", "k8s-create", "k8s-update", "k8s-delete"}
    | {"delete-range", "txn-multi", "txn-lease"}
)

Draw = Callable[[st.SearchStrategy[Any]], Any]


def _ms(values: list[int]) -> st.SearchStrategy[str]:
    return st.sampled_from(values).map(lambda v: f"{v}ms")


#: Flags exploration may set when the build lists them, each with the values it may take.
#: Snapshot counts from 10 (a snapshot every few hundred ms under load) to etcd's default.
FLAGS: dict[str, st.SearchStrategy[Any]] = {
    "--experimental-compaction-batch-limit": st.sampled_from([1, 10, 100, 1000]),
    "--experimental-watch-progress-notify-interval": _ms([100, 500, 1000, 5000]),
    "--backend-batch-interval": _ms([1, 10, 100, 500]),
    "--backend-batch-limit": st.sampled_from([1, 10, 100, 1000, 10000]),
    "--pre-vote": st.booleans(),
    "--experimental-enable-lease-checkpoint": st.booleans(),
}
SNAPSHOT_COUNTS = (10, 100, 1000, 10_000, 100_000)


def explore_scenario(seed_value: int, flags: frozenset[str], duration: float = 20.0) -> Scenario:
    """The configuration ``seed_value`` draws for a build that supports ``flags``."""
    # Hypothesis's first random example never repeats the simplest one's first choice
    # (a cluster of 1 would never be drawn): a throwaway first choice takes that bias.
    _, scn = draw(st.tuples(st.integers(0, 1 << 16), configurations(flags, duration)), seed_value)
    return scn  # type: ignore[no-any-return]


def configurations(flags: frozenset[str], duration: float) -> st.SearchStrategy[Scenario]:
    @st.composite
    def build(d: Draw) -> Scenario:
        members = d(st.sampled_from([1, 3, 3, 5]))
        args = [f"{flag}={_flag_value(value)}" for flag, value in _flags(d, flags)]
        heartbeat = d(st.sampled_from([20, 50, 100]))
        election = heartbeat * d(st.sampled_from([5, 10, 20]))
        profile = d(st.sampled_from(sorted(PROFILES)))
        lo = d(st.sampled_from([0.2, 0.5, 1.0, 2.0]))
        scn = Scenario(
            name=EXPLORE,
            description="drawn from the seed by `etcd-harness explore`",
            profile=profile,
            faults=tuple(_faults(d, members)),
            members=members,
            duration=duration,
            qps=d(st.sampled_from([None, 200.0, 500.0, 1000.0, 2000.0])),
            clients=d(st.sampled_from([4, 8, 16, 32, 64])),
            fault_interval=(lo, lo + d(st.sampled_from([0.5, 1.0, 3.0]))),
            watchers_per_member=d(st.integers(0, 3)),
            snapshot_count=d(st.sampled_from(SNAPSHOT_COUNTS)) if "--snapshot-count" in flags else None,
            heartbeat_ms=heartbeat,
            election_ms=election,
            etcd_args=tuple(args),
            keyspace=d(st.sampled_from([4, 16, 64, 256])),
            op_mix=_mix(d),
            request_progress=d(st.booleans()),
            lease_ttl=d(st.sampled_from([2, 5, 10, 7200])),
            fault_health_checks=d(st.sampled_from([True, True, True, False])),
        )
        # What exploration learned to draw later is drawn last: a seed keeps the rest.
        scn = dataclasses.replace(scn, faults=scn.faults + _snapshot_lag(d, scn))
        scn = dataclasses.replace(scn, qps=_load_for(scn), op_mix=scn.op_mix + _later_kinds(d, scn))
        scn = dataclasses.replace(scn, faults=scn.faults + _later_faults(d, scn), value_kb=_value_kb(d, scn))
        slow = scn.watchers_per_member > 0 and bool(d(st.booleans()))
        scn = dataclasses.replace(scn, op_mix=scn.op_mix + _shaped_kinds(d), slow_watchers=slow)
        scn = dataclasses.replace(scn, op_mix=scn.op_mix + _lookup_kinds(d, scn))
        scn = _fragmented(d, scn, flags)
        return dataclasses.replace(scn, faults=scn.faults + _quiet_crash(d, scn))

    return build()


def _snapshot_lag(d: Draw, scn: Scenario) -> tuple[FaultChoice, ...]:
    """A member isolated until it can only catch up from a snapshot: only where the
    snapshot count lets a run's writes get that far."""
    if scn.members < 3 or scn.snapshot_count is None or scn.snapshot_count > 1000 or not d(st.booleans()):
        return ()
    max_s = d(st.sampled_from([10.0, 15.0]))
    return (FaultChoice("partition-snapshot", ("follower", "leader"), 0.2, 0.5, (("max_s", max_s),)),)


def _load_for(scn: Scenario) -> float | None:
    """Unthrottled traffic where a member must fall more than etcd's 5000 catch-up
    entries behind within a run: no throttled mix gets there in 15 s."""
    return None if any(f.name == "partition-snapshot" for f in scn.faults) else scn.qps


def _later_kinds(d: Draw, scn: Scenario) -> tuple[tuple[str, int], ...]:
    """Kinds exploration learned after its first draws: keepalives where leases are held,
    sorted and filtered ranges, puts that keep their key's lease."""
    weights: dict[str, int] = {}
    if any(k == "lease-put" for k, _ in scn.op_mix):
        weights.update({kind: d(st.sampled_from([0, 1, 3, 10])) for kind in RENEWALS})
    return tuple((k, w) for k, w in weights.items() if w)


def _lookup_kinds(d: Draw, scn: Scenario) -> tuple[tuple[str, int], ...]:
    """TimeToLive reads where leases are held."""
    if not any(k == "lease-put" for k, _ in scn.op_mix):
        return ()
    weights = {kind: d(st.sampled_from([0, 1, 3, 10])) for kind in LOOKUPS}
    return tuple((k, w) for k, w in weights.items() if w)


#: Where watch responses may come in fragments: etcd splits one larger than its
#: --max-request-bytes (1.5 MiB by default) plus 512 KiB when the watch asked for it;
#: the smallest still takes the 100 KiB values.
MAX_REQUEST_BYTES = (128 * 1024, 1024 * 1024)


def _fragmented(d: Draw, scn: Scenario, flags: frozenset[str]) -> Scenario:
    if scn.watchers_per_member == 0 or not d(st.booleans()):
        return scn
    args = scn.etcd_args
    if "--max-request-bytes" in flags:
        args += (f"--max-request-bytes={d(st.sampled_from(MAX_REQUEST_BYTES))}",)
    return dataclasses.replace(scn, fragment_watchers=True, etcd_args=args)


def _shaped_kinds(d: Draw) -> tuple[tuple[str, int], ...]:
    weights = {kind: d(st.sampled_from([0, 0, 1, 3, 10])) for kind in SHAPED}
    return tuple((k, w) for k, w in weights.items() if w)


def _later_faults(d: Draw, scn: Scenario) -> tuple[FaultChoice, ...]:
    """Faults exploration learned after its first draws: a leader paused for longer than
    the leases' TTL (its leases must survive, then expire on time), a pause while the
    others lose peer packets, and a member killed while it rejoins as a replacement."""
    out: list[FaultChoice] = []
    if scn.lease_ttl < 60 and d(st.booleans()):
        out.append(FaultChoice("pause", ("leader",), scn.lease_ttl + 0.5, scn.lease_ttl + 2.0))
    if scn.members >= 3 and d(st.booleans()):
        p = d(st.sampled_from([0.1, 0.3, 0.5]))
        out.append(FaultChoice("pause-loss", ("leader", "follower"), 0.5, 3.0, (("probability", p),)))
    if scn.members >= 3 and d(st.booleans()):
        kill = (("kill_after_ms", d(st.sampled_from([100.0, 500.0, 2000.0]))), ("down_s", 0.5))
        out.append(FaultChoice("replace-kill", ("follower",), 0.0, 0.0, kill))
    return tuple(out)


def _quiet_crash(d: Draw, scn: Scenario) -> tuple[FaultChoice, ...]:
    """Maintenance in a lull: the traffic held still, a compaction (or defragmentation)
    at the current revision, and the member killed the moment it logs the work done,
    before its backend commits it (where etcd's suite puts its failpoints)."""
    if not d(st.booleans()):
        return ()
    request = d(st.sampled_from(["compact", "compact", "defrag"]))
    targets = (
        d(st.sampled_from([("random",), ("leader",), ("follower",)])) if scn.members > 1 else ("random",)
    )
    params = (("request", request), ("keep", 0), ("at", "finished"), ("quiet", True))
    return (FaultChoice("crash-during", targets, 0.2, 1.0, params),)


def _value_kb(d: Draw, scn: Scenario) -> int:
    """Large values where a crash is timed to a compaction or defragmentation: the longer
    the backend takes, the wider the window the kill can land in."""
    if not any(f.name == "crash-during" for f in scn.faults):
        return 0
    return int(d(st.sampled_from([0, 0, 10, 100])))


def _flags(d: Draw, supported: frozenset[str]) -> list[tuple[str, Any]]:
    out = []
    for flag, values in FLAGS.items():
        if flag in supported and d(st.booleans()):
            out.append((flag, d(values)))
    return out


def _flag_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _mix(d: Draw) -> tuple[tuple[str, int], ...]:
    """Weights over every kind; some kinds drawn out, never every write."""
    weights = {kind: d(st.sampled_from([0, 0, 1, 3, 10, 30])) for kind in KINDS}
    if not any(weights[k] for k in WRITE_KINDS):
        weights["put"] = 10
    return tuple((k, w) for k, w in weights.items() if w)


def _faults(d: Draw, members: int) -> list[FaultChoice]:
    """One to four fault kinds the cluster size can take, each with drawn parameters."""
    menu = _fault_menu(members)
    names = d(st.lists(st.sampled_from(sorted(menu)), min_size=1, max_size=4, unique=True))
    return [d(menu[name]) for name in names]


def _choice(
    name: str,
    targets: list[str],
    durations: list[tuple[float, float]],
    params: dict[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[FaultChoice]:
    @st.composite
    def build(d: Draw) -> FaultChoice:
        lo, hi = d(st.sampled_from(durations))
        drawn = tuple((k, d(v)) for k, v in (params or {}).items())
        picked = d(st.lists(st.sampled_from(targets), min_size=1, max_size=len(targets), unique=True))
        return FaultChoice(name, tuple(picked), lo, hi, drawn)

    return build()


def _fault_menu(members: int) -> dict[str, st.SearchStrategy[FaultChoice]]:
    instant = [(0.0, 0.0)]
    menu = {
        "kill": _choice("kill", ["random", "leader"], [(0.2, 0.5), (0.5, 1.5), (1.0, 3.0)]),
        "pause": _choice("pause", ["random", "leader"], [(0.5, 1.5), (1.0, 4.0)]),
        "defrag": _choice("defrag", ["random", "leader", "all"], instant),
        "compact": _choice("compact", ["random"], instant, {"keep": st.sampled_from([0, 10, 200])}),
    }
    crash = {"request": st.sampled_from(["compact", "defrag"]), "keep": st.sampled_from([0, 10, 200])}
    menu["crash-during"] = _choice("crash-during", ["random", "leader"], [(0.2, 0.5), (0.5, 2.0)], crash)
    if members == 1:
        return menu
    menu["kill"] = _choice(
        "kill", ["random", "leader", "follower", "restarted"], [(0.2, 0.5), (0.5, 1.5), (1.0, 3.0)]
    )
    menu["pause"] = _choice("pause", ["random", "leader", "follower"], [(0.5, 1.5), (1.0, 4.0)])
    menu["partition"] = st.one_of(
        _choice(
            "partition",
            ["leader", "follower", "random"],
            [(1.0, 3.0), (2.0, 5.0)],
            {"mode": st.just("isolate")},
        ),
        _choice("partition", ["minority"], [(1.0, 3.0), (2.0, 5.0)], {"mode": st.just("split")}),
        _choice("partition", ["follower", "leader"], [(1.0, 3.0), (2.0, 5.0)], {"mode": st.just("one-way")}),
    )
    menu["loss"] = _choice(
        "loss",
        ["random", "leader", "all"],
        [(1.0, 3.0), (2.0, 4.0)],
        {"probability": st.sampled_from([0.1, 0.3, 0.5])},
    )
    menu["delay"] = _choice(
        "delay",
        ["random", "leader", "all"],
        [(1.0, 3.0), (2.0, 4.0)],
        {"delay_ms": st.sampled_from([20.0, 50.0, 150.0])},
    )
    menu["replace"] = _choice("replace", ["follower"], instant)
    menu["crash-during"] = _choice(
        "crash-during", ["random", "leader", "follower"], [(0.2, 0.5), (0.5, 2.0)], crash
    )
    return menu


def describe(scn: Scenario) -> dict[str, Any]:
    """The drawn settings, for plan.json and the summary."""
    return {
        "members": scn.members,
        "profile": scn.profile,
        "op_mix": dict(scn.op_mix),
        "qps": scn.qps,
        "clients": scn.clients,
        "keyspace": scn.keyspace,
        "watchers_per_member": scn.watchers_per_member,
        "request_progress": scn.request_progress,
        "lease_ttl": scn.lease_ttl,
        "value_kb": scn.value_kb,
        "slow_watchers": scn.slow_watchers,
        "fragment_watchers": scn.fragment_watchers,
        "faults": [
            {
                "fault": f.name,
                "targets": list(f.targets),
                "duration": [f.min_duration, f.max_duration],
                **dict(f.params),
            }
            for f in scn.faults
        ],
        "fault_interval": list(scn.fault_interval),
        "fault_health_checks": scn.fault_health_checks,
        "snapshot_count": scn.snapshot_count,
        "heartbeat_ms": scn.heartbeat_ms,
        "election_ms": scn.election_ms,
        "etcd_args": list(scn.etcd_args),
    }
