"""The named scenarios; `etcd-harness scenarios` lists them."""

from __future__ import annotations

from scenarios.base import FaultChoice, Scenario
from scenarios.deployments import DEPLOYMENTS

_ALL = [
    Scenario(
        name="smoke",
        description="kv traffic on 3 members, one member killed and restarted once: a quick end-to-end check",
        profile="kv",
        faults=(FaultChoice("kill", ("random",), 1.0, 2.0),),
        duration=8.0,
        qps=500.0,
        fault_interval=(2.0, 3.0),
    ),
    Scenario(
        name="kill-under-load",
        description="unthrottled kv traffic while random members are SIGKILLed and restarted",
        profile="kv",
        faults=(FaultChoice("kill", ("random", "leader", "follower"), 0.5, 1.5),),
        duration=30.0,
        qps=None,
        clients=16,
        fault_interval=(0.5, 2.0),
    ),
    Scenario(
        name="pause-leader",
        description="the leader is SIGSTOPped for a few seconds, repeatedly",
        profile="kv",
        faults=(FaultChoice("pause", ("leader",), 1.0, 3.0),),
        duration=20.0,
    ),
    Scenario(
        name="partition-leader",
        description="the leader is cut off from its peers; the majority elects a new one",
        profile="kv",
        faults=(FaultChoice("partition", ("leader",), 2.0, 4.0, (("mode", "isolate"),)),),
        duration=20.0,
    ),
    Scenario(
        name="partition-minority",
        description="a minority of members is split from the majority (one-way loss included)",
        profile="kv",
        faults=(
            FaultChoice("partition", ("minority",), 2.0, 4.0, (("mode", "split"),)),
            FaultChoice("partition", ("follower",), 2.0, 4.0, (("mode", "one-way"),)),
        ),
        duration=20.0,
    ),
    Scenario(
        name="peer-delay",
        description="peer traffic of random members delayed and lossy",
        profile="kv",
        faults=(
            FaultChoice("delay", ("random", "leader"), 2.0, 4.0, (("delay_ms", 50.0),)),
            FaultChoice("loss", ("random",), 2.0, 4.0, (("probability", 0.3),)),
        ),
        duration=20.0,
    ),
    Scenario(
        name="member-replace",
        description="a member is removed, wiped, added back and restarted",
        profile="kv",
        faults=(FaultChoice("replace", ("follower",), 1.0, 1.0),),
        duration=20.0,
        fault_interval=(3.0, 5.0),
    ),
    Scenario(
        name="lease-expiry",
        description="3 s leases granted, kept alive, revoked and left to expire under the keys they hold, "
        "while the leader is paused for longer than the TTL or cut off from its peers",
        profile="kv",
        op_mix=(
            ("lease-put", 20),
            ("lease-keepalive", 4),
            ("lease-ttl", 3),
            ("lease-revoke", 3),
            ("txn-lease", 5),
            ("get", 25),
            ("range-prefix", 10),
            ("put", 10),
            ("delete", 5),
        ),
        lease_ttl=3,
        faults=(
            FaultChoice("pause", ("leader",), 3.5, 5.0),
            FaultChoice("partition", ("leader",), 2.0, 4.0, (("mode", "isolate"),)),
        ),
        duration=20.0,
        qps=500.0,
        fault_interval=(2.0, 4.0),
    ),
    Scenario(
        name="kubernetes-compaction",
        description="apiserver-like traffic: optimistic updates, paginated lists, watches, periodic compaction, defrag",
        profile="kubernetes",
        faults=(
            FaultChoice("kill", ("random",), 1.0, 2.0),
            FaultChoice("defrag", ("random",), 0.0, 0.0),
        ),
        duration=20.0,
        watchers_per_member=2,
    ),
    Scenario(
        name="watch",
        description="watch-heavy traffic with progress notifications while members restart",
        profile="watch",
        faults=(FaultChoice("kill", ("follower",), 1.0, 2.0),),
        duration=15.0,
        watchers_per_member=3,
    ),
    Scenario(
        name="watch-progress",
        description=(
            "watchers request progress notifications under load: on etcd < 3.4.25 / 3.5.8 a requested "
            "notification can carry a revision below events already sent (etcd-io/etcd#15220)"
        ),
        profile="watch",
        duration=15.0,
        qps=None,
        watchers_per_member=3,
        request_progress=True,
    ),
    Scenario(
        name="watch-compaction",
        description=(
            "watchers resume after their member restarts while apiserver-like traffic compacts 200 revisions "
            "behind: on etcd < 3.4.34 / 3.5.16 a watch resumed at a compaction revision that deleted a key "
            "misses that DELETE (etcd-io/etcd#18089)"
        ),
        profile="kubernetes",
        faults=(FaultChoice("kill", ("random",), 0.5, 1.5),),
        duration=30.0,
        qps=None,
        clients=16,
        fault_interval=(0.5, 1.5),
        watchers_per_member=2,
    ),
    Scenario(
        name="selftest",
        description="short fault-free kv traffic with watchers; what `etcd-harness selftest` runs through its bug injector",
        profile="kv",
        duration=6.0,
        qps=400.0,
        keyspace=8,
        watchers_per_member=2,
    ),
    Scenario(
        name="issue-13766",
        description=(
            "etcd-io/etcd#13766: unthrottled puts from 128 clients, no watchers, one follower in a "
            "crash loop: SIGKILLed, restarted 0.2-0.3 s later and killed again 0.05-0.2 s after that, "
            "while it starts and catches up; default --snapshot-count"
        ),
        profile="kubernetes",
        # A crash-looping member (as under memory pressure) dies while it applies what
        # it missed, the busiest time of its apply loop; a follower, since a leader kill
        # stalls writes for an election.
        faults=(FaultChoice("kill", ("restarted",), 0.2, 0.3),),
        duration=20.0,
        qps=None,
        clients=128,
        keyspace=64,
        # The bug needs a high rate of applied writes on two cores shared with the
        # cluster: plain puts (optimistic updates under contention lose most of their
        # compares; reads cost writes), and no watchers, whose recording costs about half
        # the write rate. No compaction: etcd persists the backend from the apply loop at
        # each one, a consistent commit that hides the racy periodic ones (0 of 272 kills
        # found it with 1% compactions). A lost write still shows in prev_kv, in the
        # revisions writes report, and in the final reads and status of each member.
        op_mix=(("put", 1),),
        fault_interval=(0.05, 0.2),
        watchers_per_member=0,
        fault_health_checks=False,
    ),
]

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (*_ALL, *DEPLOYMENTS)}
