"""Crash and freeze faults: SIGKILL/restart and SIGSTOP/SIGCONT (``docker kill``/``pause``)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from harness.cluster.base import Cluster, Member
from harness.faults.base import Fault


class KillFault(Fault):
    """Kill the targets; heal restarts them on their old data, which tests durability."""

    name = "kill"

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        hit = self.choose(cluster, rng, targets)
        self.detail = {"signal": "SIGKILL", "target": self.target, "pids": [cluster.pid(m) for m in hit]}
        for m in hit:
            cluster.kill(m)
        return hit

    def heal(self, cluster: Cluster) -> None:
        for m in self.targets:
            if m.state == "killed":
                cluster.restart(m)


class PauseFault(Fault):
    """Freeze the targets: a member that holds its connections open but answers nothing."""

    name = "pause"

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        hit = self.choose(cluster, rng, targets)
        self.detail = {"signal": "SIGSTOP", "target": self.target}
        for m in hit:
            cluster.pause(m)
        return hit

    def heal(self, cluster: Cluster) -> None:
        for m in self.targets:
            cluster.resume(m)
