"""Faults that strike two ways at once, where a recovery path meets a second failure: a
frozen member while the others lose peer packets, and a member killed while it rejoins
as a replacement (wiped, added back, catching up from its peers).

The schedule injects one fault at a time; each of these is one fault, so its window in
the history covers both parts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

from harness.cluster.base import Cluster, ClusterError, Member
from harness.faults.base import Fault, FaultError
from harness.faults.network import LossFault, _NetworkFault
from harness.faults.process import PauseFault


class PauseLossFault(_NetworkFault):
    """SIGSTOP the target while the other members drop ``probability`` of their peer
    packets: elections and catch-up both run over a lossy network."""

    name = "pause-loss"
    params_known = ("probability",)

    def __init__(self, target: str = "leader", probability: float = 0.3):
        super().__init__(target, probability=probability)
        self.pause = PauseFault(target)
        self.loss = LossFault("all", probability)

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        hit = self.choose(cluster, rng, targets)
        others = [m for m in cluster.members if m not in hit and m.state == "running"]
        self.loss.inject(cluster, rng, others)
        self.pause.inject(cluster, rng, hit)
        self.detail = {
            "target": self.target,
            "paused": [m.name for m in hit],
            "lossy": [m.name for m in others],
        }
        self.detail["probability"] = self.loss.probability
        return hit

    def heal(self, cluster: Cluster) -> None:
        self.pause.heal(cluster)
        super().heal(cluster)


class ReplaceKillFault(Fault):
    """Replace the target (remove, wipe, add back), and SIGKILL it ``kill_after_ms`` after
    it was started again, while it still syncs from its peers; it is restarted
    ``down_s`` later on whatever it had written."""

    name = "replace-kill"
    instant = True
    params_known = ("kill_after_ms", "down_s")

    def __init__(self, target: str = "follower", kill_after_ms: float = 100.0, down_s: float = 0.5):
        if not 0 <= kill_after_ms <= 5000 or not 0 <= down_s <= 10:
            raise FaultError("replace-kill: kill_after_ms in [0, 5000] and down_s in [0, 10]")
        super().__init__(target, kill_after_ms=kill_after_ms, down_s=down_s)
        self.kill_after_ms, self.down_s = kill_after_ms, down_s

    def available(self, cluster: Cluster) -> tuple[bool, str]:
        if len(cluster.members) < 3:
            return False, "replacing a member needs the others to keep a quorum"
        return True, ""

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        hit = self.choose(cluster, rng, targets)
        after_ms = rng.uniform(0, self.kill_after_ms)
        self.detail = {"target": self.target, "killed_after_ms": round(after_ms, 1), "down_s": self.down_s}

        def crash(m: Member) -> None:
            time.sleep(after_ms / 1000)
            cluster.kill(m)
            time.sleep(self.down_s)
            cluster.restart(m)

        for m in hit:
            old = m.member_id
            try:
                cluster.replace_member(m, after_launch=crash)
            except ClusterError as exc:
                # A member crashed mid-join may never serve again (etcd keeps it running
                # but unhealthy); the run goes on with a clean replacement, and the
                # report keeps why.
                self.detail.setdefault("recovered", {})[m.name] = str(exc)[:400]
                cluster.replace_member(m)
            self.detail.setdefault("ids", {})[m.name] = [old, m.member_id]
        return hit
