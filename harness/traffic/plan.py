"""The plan of a run, drawn by Hypothesis from a seed: programs, watchers, fault schedule.

A plan is plain data saved as plan.json; `--seed N` regenerates the same plan (for the
same Hypothesis version, which the plan records) and `reproduce` replays the saved one.
Live runs are not shrunk (a cluster is not deterministic): Hypothesis is used here for
its strategies and seeded generation, while shrinking happens on recorded histories.

Each client gets a short program of operation templates that it cycles through; the
keys and values of each concrete operation come from the template, the client's
position in its program and the seed, so a run's requests are a function of the plan.
"""

from __future__ import annotations

import hashlib
from typing import Any

import hypothesis
import msgspec
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from harness import auth
from scenarios.base import Scenario

PLAN_VERSION = 1

#: Operation kinds per traffic profile, with relative weights.
PROFILES: dict[str, dict[str, int]] = {
    "kv": {
        "get": 20,
        "get-serializable": 5,
        "range-prefix": 8,
        "put": 25,
        "delete": 5,
        "txn": 10,
        "cas": 10,
        "lease-put": 3,
        "lease-revoke": 2,
        "compact": 1,
    },
    "kubernetes": {
        "k8s-create": 15,
        "k8s-update": 40,
        "k8s-delete": 5,
        "k8s-get": 15,
        "k8s-list": 10,
        "compact": 1,
    },
    "watch": {"put": 50, "delete": 10, "txn": 10, "get": 20, "range-prefix": 10},
}


class OpTemplate(msgspec.Struct, array_like=True, frozen=True):
    kind: str
    key: int
    arg: int = 0


class ClientProgram(msgspec.Struct, frozen=True):
    client: int
    #: Index of the member the client talks to; None: it rotates over all members.
    member: int | None
    program: list[OpTemplate]


class WatchSpec(msgspec.Struct, frozen=True):
    watcher: int
    member: int
    prefix: bool
    key: int
    prev_kv: bool
    progress_notify: bool
    #: After every ``stall_every`` messages the watcher stops reading for ``stall_s``.
    stall_every: int = 0
    stall_s: float = 0.0
    #: After every ``recreate_every`` messages of a stream it cancels and re-creates it.
    recreate_every: int = 0
    #: Event types the watch asks etcd to leave out (``noput``, ``nodelete``).
    filters: tuple[str, ...] = ()
    #: Whether etcd may split a response too large for one message.
    fragment: bool = False


class FaultStep(msgspec.Struct, frozen=True):
    at: float
    fault: str
    target: str
    duration: float
    #: Picks among the members that fit ``target`` at injection time.
    pick: int
    params: dict[str, Any] = msgspec.field(default_factory=dict)


class Plan(msgspec.Struct, frozen=True):
    version: int
    seed: int
    scenario: str
    profile: str
    members: int
    duration: float
    qps: float | None
    keyspace: int
    clients: list[ClientProgram]
    watchers: list[WatchSpec]
    faults: list[FaultStep]
    hypothesis_version: str
    #: Watchers also ask for progress notifications (finds etcd-io/etcd#15220 on old builds).
    request_progress: bool = False
    #: The cluster's settings. None: the named scenario's (plans written before they
    #: were recorded); an explored plan always holds them, for ``reproduce`` to replay.
    etcd_args: list[str] | None = None
    snapshot_count: int | None = None
    heartbeat_ms: int | None = None
    election_ms: int | None = None
    fault_health_checks: bool | None = None
    #: TTL of the leases traffic grants, in seconds.
    lease_ttl: int = 7200
    #: Every 32nd write of a client carries a value this many KiB long.
    value_kb: int = 0
    #: What exploration drew, for people reading plan.json and the summary.
    drawn: dict[str, Any] = msgspec.field(default_factory=dict)
    #: The build each member starts on, for ``reproduce`` (None: plans written before
    #: they were recorded, or a cluster the harness did not start).
    etcd_versions: list[str] | None = None
    #: Client and peer traffic over TLS (``--tls``).
    tls: bool = False
    #: Authentication on, traffic as the test user (``--auth``).
    auth: bool = False

    def to_json(self) -> bytes:
        return msgspec.json.format(msgspec.json.encode(self), indent=2) + b"\n"

    @staticmethod
    def from_json(data: bytes) -> Plan:
        return msgspec.json.decode(data, type=Plan)


def key_name(profile: str, index: int) -> str:
    prefix = "/registry/pods/default/" if profile == "kubernetes" else "key/"
    return f"{prefix}{index:04d}"


def key_prefix(profile: str) -> str:
    return "/registry/pods/" if profile == "kubernetes" else "key/"


def auth_layout(profile: str, keyspace: int) -> auth.Layout:
    """The churn range of an ``--auth`` run: the profile's prefix up to a third of its
    key space, so lists over the prefix and a third of the single keys lose their
    permission while an auth-revoke fault lasts."""
    end = key_name(profile, max(1, keyspace // 3))
    return auth.Layout(churn_key=key_prefix(profile), churn_end=end)


#: Templates over all client programs that one Hypothesis example can hold.
PLAN_TEMPLATES = 1024


def program_length(clients: int) -> int:
    """The longest program a client may get. Hypothesis caps the choices one example may
    make; a plan past the cap overruns and is drawn again and again (36 s for 128
    clients of up to 16 templates), so many clients get shorter programs (up to 64
    clients keep 16; from 257 on the floor of 4 no longer fits)."""
    return max(4, min(16, PLAN_TEMPLATES // max(1, clients)))


def _programs(scn: Scenario) -> st.SearchStrategy[list[ClientProgram]]:
    weights = dict(scn.op_mix) if scn.op_mix else PROFILES[scn.profile]
    kinds = [k for k, w in weights.items() for _ in range(w)]
    template = st.builds(
        OpTemplate,
        kind=st.sampled_from(kinds),
        key=st.integers(0, scn.keyspace - 1),
        arg=st.integers(0, 15),
    )

    longest = program_length(scn.clients)

    @st.composite
    def build(draw: Any) -> list[ClientProgram]:
        out = []
        for c in range(scn.clients):
            # Half the clients are pinned to one member, the others rotate.
            member = draw(st.one_of(st.none(), st.integers(0, scn.members - 1)))
            program = draw(st.lists(template, min_size=4, max_size=longest))
            out.append(ClientProgram(client=c, member=member, program=program))
        return out

    return build()


def _slowed(draw: Any, spec: WatchSpec) -> WatchSpec:
    return msgspec.structs.replace(
        spec,
        stall_every=draw(st.sampled_from([0, 20, 100])),
        stall_s=draw(st.sampled_from([1.0, 3.0])),
        recreate_every=draw(st.sampled_from([0, 0, 50, 200])),
        filters=draw(st.sampled_from([(), (), ("nodelete",), ("noput",)])),
    )


def _watchers(scn: Scenario) -> st.SearchStrategy[list[WatchSpec]]:
    @st.composite
    def build(draw: Any) -> list[WatchSpec]:
        out: list[WatchSpec] = []
        for m in range(scn.members):
            for _ in range(scn.watchers_per_member):
                spec = WatchSpec(
                    watcher=len(out),
                    member=m,
                    prefix=draw(st.booleans()) or scn.profile != "kv",
                    key=draw(st.integers(0, scn.keyspace - 1)),
                    prev_kv=draw(st.booleans()),
                    progress_notify=draw(st.booleans()) or scn.profile == "watch",
                )
                out.append(_slowed(draw, spec) if scn.slow_watchers else spec)
        return out

    return build()


def _fragmenting(scn: Scenario) -> st.SearchStrategy[list[bool]]:
    """Per watcher, whether it asks for fragments: drawn after everything else, so that
    a seed keeps the rest of its plan."""
    n = scn.members * scn.watchers_per_member if scn.fragment_watchers else 0
    return st.lists(st.booleans(), min_size=n, max_size=n)


def _faults(scn: Scenario) -> st.SearchStrategy[list[FaultStep]]:
    @st.composite
    def build(draw: Any) -> list[FaultStep]:
        out: list[FaultStep] = []
        if not scn.faults:
            return out
        lo, hi = scn.fault_interval
        # Leave the first and last stretch of the run fault-free, so the cluster is
        # healthy at the start and has settled before the final reads.
        t = 1.0 + draw(st.floats(lo, hi))
        end = scn.duration - 1.5
        while t < end and len(out) < 200:
            choice = draw(st.sampled_from(scn.faults))
            duration = round(draw(st.floats(choice.min_duration, choice.max_duration)), 3)
            if t + duration > end:
                break
            out.append(
                FaultStep(
                    at=round(t, 3),
                    fault=choice.name,
                    target=draw(st.sampled_from(choice.targets)),
                    duration=duration,
                    pick=draw(st.integers(0, 1 << 16)),
                    params=dict(choice.params),
                )
            )
            t += duration + draw(st.floats(lo, hi))
        return out

    return build()


def draw(strategy: st.SearchStrategy[Any], seed_value: int) -> Any:
    """One value of ``strategy`` for ``seed_value``, deterministically.

    Hypothesis tries the simplest input first, so the second example is the first
    random one; the database is off so nothing from earlier runs leaks in.
    """
    drawn: list[Any] = []

    @seed(seed_value)
    @settings(
        max_examples=2,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn[-1]


def make_plan(
    scn: Scenario,
    seed_value: int,
    *,
    duration: float | None = None,
    qps: float | None = -1.0,
    members: int | None = None,
    drawn: dict[str, Any] | None = None,
) -> Plan:
    """Draw the plan of ``scn`` for ``seed_value``; overrides change the scenario first."""
    import dataclasses

    changes: dict[str, Any] = {}
    if duration is not None:
        changes["duration"] = duration
    if qps is None or (qps is not None and qps >= 0):
        changes["qps"] = qps if qps != 0 else None
    if members is not None:
        changes["members"] = members
    if changes:
        scn = dataclasses.replace(scn, **changes)
    parts = st.tuples(_programs(scn), _watchers(scn), _faults(scn), _fragmenting(scn))
    clients, watchers, faults, fragment = draw(parts, seed_value)
    if fragment:
        watchers = [msgspec.structs.replace(w, fragment=f) for w, f in zip(watchers, fragment, strict=True)]
    return Plan(
        version=PLAN_VERSION,
        seed=seed_value,
        scenario=scn.name,
        profile=scn.profile,
        members=scn.members,
        duration=scn.duration,
        qps=scn.qps,
        keyspace=scn.keyspace,
        clients=clients,
        watchers=watchers,
        faults=faults,
        hypothesis_version=hypothesis.__version__,
        request_progress=scn.request_progress,
        etcd_args=list(scn.etcd_args),
        snapshot_count=scn.snapshot_count,
        heartbeat_ms=scn.heartbeat_ms,
        election_ms=scn.election_ms,
        fault_health_checks=scn.fault_health_checks,
        lease_ttl=scn.lease_ttl,
        value_kb=scn.value_kb,
        drawn=dict(drawn or {}),
        etcd_versions=list(scn.etcd_versions) or None,
    )


def op_random(plan_seed: int, client: int, index: int) -> int:
    """A stable per-operation random number (for keys and arguments at run time)."""
    digest = hashlib.blake2b(f"{plan_seed}:{client}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")
