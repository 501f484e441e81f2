"""Peer latency through the cluster's peer proxy (this kernel has no ``tc netem``).

The cluster must be built with ``peer_proxy=True`` so every member's peer URL goes through
the harness's relay; the fault then sets a one-way delay on the targets' routes. A
connection from A to B passes B's route only, so with all routes delayed every peer round
trip grows by twice the delay.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from harness.cluster.base import Cluster, Member
from harness.faults.base import Fault, FaultError


class DelayFault(Fault):
    name = "delay"
    params_known = ("delay_ms",)

    def __init__(self, target: str = "all", delay_ms: float = 100.0):
        if delay_ms < 0:
            raise FaultError("delay must be >= 0 ms")
        super().__init__(target, delay_ms=delay_ms)
        self.delay_ms = delay_ms

    def available(self, cluster: Cluster) -> tuple[bool, str]:
        if cluster.proxy is None:
            return False, "the cluster has no peer proxy (start it with peer_proxy=True / --peer-proxy)"
        return True, ""

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        assert cluster.proxy is not None
        hit = self.choose(cluster, rng, targets)
        cluster.proxy.set_delay([m.name for m in hit], self.delay_ms)
        self.detail = {
            "delay_ms": self.delay_ms,
            "per": "one-way, each direction into the targets",
            "target": self.target,
        }
        return hit

    def heal(self, cluster: Cluster) -> None:
        if cluster.proxy is not None:
            cluster.proxy.set_delay(None, 0.0)
