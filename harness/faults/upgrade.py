"""Rolling upgrades and downgrades as faults: stop a member, start another build on its data.

Which direction etcd accepts is decided before the run starts
(:func:`harness.cluster.versions.check_version_changes`); here the build is only looked
up, never fetched, so the swap takes the seconds an operator's would.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from harness.cluster.base import Cluster, ClusterError, Member
from harness.cluster.binaries import BinaryError, resolve
from harness.faults.base import Fault, FaultError


class UpgradeFault(Fault):
    """``upgrade:to=3.5.1``: the target ("next", the first member not yet running the
    build, as a rolling upgrade goes; or a member name) is stopped with SIGTERM and
    started on the same data dir with the new build; the step ends once it serves."""

    name = "upgrade"
    instant = True
    params_known = ("to",)

    def available(self, cluster: Cluster) -> tuple[bool, str]:
        if not self.params.get("to"):
            return False, "upgrade needs to=VERSION"
        if self._pick(cluster) is None:
            return False, f"every member already runs {self.params['to']}"
        return True, ""

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        try:
            binary = resolve(str(self.params["to"]), fetch=False)
        except BinaryError as exc:
            raise FaultError(str(exc)) from None
        picked = list(targets) if targets else [self._pick(cluster)]
        self.targets = [m for m in picked if m is not None]
        for m in self.targets:
            self.detail = {"target": self.target, "member": m.name, "from": m.version, "to": binary.version}
            cluster.upgrade(m, binary)
        return self.targets

    def _pick(self, cluster: Cluster) -> Member | None:
        to = str(self.params.get("to", ""))
        if self.target == "next":
            return next((m for m in cluster.members if m.version != to and m.state != "removed"), None)
        try:
            return cluster.member(self.target)
        except ClusterError:
            raise FaultError(f"upgrade target {self.target!r}: want 'next' or a member name") from None
