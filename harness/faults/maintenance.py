"""Operator actions that stress recovery paths: member replacement, defragment, compaction."""

from __future__ import annotations

import random
from collections.abc import Sequence

from harness.cluster import admin
from harness.cluster.base import Cluster, Member
from harness.faults.base import Fault


class ReplaceFault(Fault):
    """MemberRemove, wipe the data, MemberAdd, restart as ``existing``: the member resyncs from peers."""

    name = "replace"
    instant = True

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        hit = self.choose(cluster, rng, targets)
        old = {m.name: m.member_id for m in hit}
        for m in hit:
            cluster.replace_member(m)
        self.detail = {"old_ids": old, "new_ids": {m.name: m.member_id for m in hit}, "target": self.target}
        return hit


class DefragFault(Fault):
    name = "defrag"
    instant = True

    def __init__(self, target: str = "random"):
        super().__init__(target)

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        hit = self.choose(cluster, rng, targets)
        for m in hit:
            admin.defragment(m.client_url)
        self.detail = {"target": self.target}
        return hit


class CompactFault(Fault):
    """Compact at the current revision (less ``keep`` revisions), physically."""

    name = "compact"
    params_known = ("keep",)
    instant = True

    def __init__(self, target: str = "random", keep: int = 0):
        super().__init__(target, keep=keep)
        self.keep = keep

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        hit = self.choose(cluster, rng, targets)
        via = hit[0]
        rev = max(1, cluster.status(via).revision - self.keep)
        # Recorded before the request: one that times out may still be applied, and the
        # checks read it as a compaction of unknown outcome only if they know its revision.
        self.detail = {"revision": rev, "target": self.target}
        try:
            admin.compact(via.client_url, rev)
        except admin.AdminError as exc:
            if "compacted" not in str(exc):
                raise
        return hit
