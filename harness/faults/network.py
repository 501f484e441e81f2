"""Partitions and packet loss with iptables inside the members' own network namespaces.

Only peer traffic is cut, so the harness keeps talking to a member on the minority side.
Every TCP connection between two members is opened by one of them to the other's
advertised peer endpoint, so dropping what the opener sends to that endpoint kills the
connection in both directions: a link is cut by one such rule in each member. Rules live
in a chain of ours (``EHX``) inside namespaces the harness created, so healing is a flush
and deleting the namespace removes them for good; the host's own rules are never touched.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from typing import ClassVar

from harness.cluster.base import Cluster, ClusterError, Member
from harness.faults.base import Fault, FaultError

CHAIN = "EHX"
MODES = ("isolate", "isolate-leader", "split", "one-way")


def iptables(cluster: Cluster, m: Member, *args: str) -> str:
    return cluster.net_exec(m, ["iptables", "-w", "5", *args])


def ensure_chain(cluster: Cluster, m: Member) -> None:
    with contextlib.suppress(ClusterError):
        iptables(cluster, m, "-N", CHAIN)
    try:
        iptables(cluster, m, "-C", "OUTPUT", "-j", CHAIN)
    except ClusterError:
        iptables(cluster, m, "-I", "OUTPUT", "1", "-j", CHAIN)


def drop_to(cluster: Cluster, src: Member, dst: Member, probability: float | None = None) -> None:
    """Drop what ``src`` sends to ``dst``'s advertised peer endpoint (a proxy route or the member)."""
    args = [
        "-A",
        CHAIN,
        "-p",
        "tcp",
        "-d",
        dst.peer_host or dst.ip,
        "--dport",
        str(dst.peer_adv_port or dst.peer_port),
    ]
    if probability is not None:
        args += ["-m", "statistic", "--mode", "random", "--probability", f"{probability:.4f}"]
    iptables(cluster, src, *args, "-j", "DROP")


def drop_replies(cluster: Cluster, m: Member, probability: float) -> None:
    """Drop what ``m`` sends back on connections its peers opened."""
    iptables(
        cluster, m, "-A", CHAIN, "-p", "tcp", "--sport", str(m.peer_port),
        "-m", "statistic", "--mode", "random", "--probability", f"{probability:.4f}", "-j", "DROP",
    )  # fmt: skip


def flush(cluster: Cluster, members: Sequence[Member] | None = None) -> None:
    for m in members or cluster.members:
        if m.state in ("running", "paused") or cluster.backend == "process":
            with contextlib.suppress(ClusterError):
                iptables(cluster, m, "-F", CHAIN)


def dropped_packets(cluster: Cluster, m: Member) -> int:
    """Packets our rules dropped in ``m``'s namespace, from iptables' own counters."""
    out = iptables(cluster, m, "-L", CHAIN, "-v", "-x", "-n")
    total = 0
    for line in out.splitlines()[2:]:
        parts = line.split()
        if len(parts) > 2 and parts[2] == "DROP":
            total += int(parts[0])
    return total


def cut(cluster: Cluster, a: Member, b: Member, *, one_way: bool = False) -> None:
    for m in (a, b):
        ensure_chain(cluster, m)
    drop_to(cluster, a, b)
    if not one_way:
        drop_to(cluster, b, a)


class _NetworkFault(Fault):
    def available(self, cluster: Cluster) -> tuple[bool, str]:
        return cluster.netns_available()

    def heal(self, cluster: Cluster) -> None:
        flush(cluster)


class PartitionFault(_NetworkFault):
    """``isolate`` a member, ``isolate-leader``, ``split`` into minority/majority, or ``one-way``.

    ``one-way`` blocks the connections the targets open to everyone else, leaving the ones
    the others open to them: with TCP, a packet-level one-way drop is no more asymmetric.
    """

    name = "partition"
    params_known: ClassVar[tuple[str, ...]] = ("mode",)

    def __init__(self, target: str = "random", mode: str = "isolate"):
        if mode not in MODES:
            raise FaultError(f"unknown partition mode {mode!r} (choose from {', '.join(MODES)})")
        if mode == "isolate-leader":
            target = "leader"
        elif mode == "split" and target == "random":
            target = "minority"
        super().__init__(target, mode=mode)
        self.mode = mode

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        side = self.choose(cluster, rng, targets)
        rest = [m for m in cluster.members if m not in side and m.state != "removed"]
        for a in side:
            for b in rest:
                cut(cluster, a, b, one_way=self.mode == "one-way")
        self.detail = {
            "mode": self.mode,
            "target": self.target,
            "sides": [[m.name for m in side], [m.name for m in rest]],
        }
        return side


class LossFault(_NetworkFault):
    """Drop a random share of the targets' peer packets, both directions."""

    name = "loss"
    params_known = ("probability",)

    def __init__(self, target: str = "all", probability: float = 0.3):
        if not 0.0 < probability <= 1.0:
            raise FaultError(f"loss probability must be in (0, 1], not {probability}")
        super().__init__(target, probability=probability)
        self.probability = probability

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        hit = self.choose(cluster, rng, targets)
        for a in hit:
            ensure_chain(cluster, a)
            for b in cluster.members:
                if b is not a:
                    drop_to(cluster, a, b, self.probability)
            drop_replies(cluster, a, self.probability)
        self.detail = {"probability": self.probability, "target": self.target}
        return hit
