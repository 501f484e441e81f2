"""What a named scenario fixes: traffic profile, faults, cluster shape, duration, load."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FaultChoice:
    """A fault the schedule may draw, with the targets it may be aimed at."""

    name: str
    targets: tuple[str, ...] = ("random",)
    min_duration: float = 1.0
    max_duration: float = 3.0
    #: Parameters of the fault (see harness.faults), as (name, value) pairs.
    params: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    profile: str = "kv"
    faults: tuple[FaultChoice, ...] = ()
    members: int = 3
    duration: float = 10.0
    qps: float | None = 1000.0  # None: unthrottled
    clients: int = 8
    #: Gap between faults, drawn per fault in [min, max] seconds.
    fault_interval: tuple[float, float] = (1.0, 3.0)
    watchers_per_member: int = 1
    snapshot_count: int | None = None
    #: Raft timing; None: the cluster's defaults (50 ms heartbeat, 500 ms election).
    heartbeat_ms: int | None = None
    election_ms: int | None = None
    etcd_args: tuple[str, ...] = field(default_factory=tuple)
    keyspace: int = 16
    #: TTL of the leases traffic grants: by default longer than any run.
    lease_ttl: int = 7200
    #: Every 32nd write of a client carries a value this many KiB long (0: short values
    #: only): a backend grown large makes compaction and defragmentation take long.
    value_kb: int = 0
    #: Watchers that stop reading for seconds now and then (etcd must buffer or slow
    #: them down, never drop events) and cancel and re-create their watch.
    slow_watchers: bool = False
    #: Watchers that may ask for fragmented responses (drawn per watcher).
    fragment_watchers: bool = False
    #: The operation mix as (template kind, weight) pairs; empty: the profile's own.
    op_mix: tuple[tuple[str, int], ...] = ()
    #: Watchers send progress requests during traffic (etcd-io/etcd#15220 on old builds).
    request_progress: bool = False
    #: Wait for a healthy cluster before and after each fault; off for kill storms that
    #: must hit members still catching up after a restart.
    fault_health_checks: bool = True
    #: The build each member starts on (empty: the one the command line names); a
    #: scenario about upgrades fixes them.
    etcd_versions: tuple[str, ...] = ()
    #: Client and peer traffic over TLS, as ``--tls`` gives any scenario.
    tls: bool = False
    #: Authentication on, traffic as a test user, as ``--auth`` gives any scenario.
    auth: bool = False
