"""Auth changes as faults, on a cluster whose authentication the run turned on (``--auth``).

Each change is recorded in the fault's detail with the history times its call was sent
and its answer came back (``changes``): etcd applies an auth change in raft order, so
these bound when the traffic's permissions changed, and the permission check
(:mod:`models.etcd.permissions`) holds every answer to them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from harness import auth
from harness.cluster import auth as cluster_auth
from harness.cluster.base import Cluster, Member
from harness.faults.base import Fault

Change = Callable[[Sequence[str], auth.Realm], None]


class _AuthFault(Fault):
    def available(self, cluster: Cluster) -> tuple[bool, str]:
        if self._realm(cluster) is None:
            return False, "needs a cluster with authentication on (--auth)"
        return True, ""

    @staticmethod
    def _realm(cluster: Cluster) -> auth.Realm | None:
        eps = cluster.endpoints()
        return auth.realm_for(eps[0]) if eps else None

    def _apply(self, cluster: Cluster, what: str, change: Change) -> None:
        """Make the change through the target first, then any other running member."""
        realm = self._realm(cluster)
        assert realm is not None
        first = self.targets[0] if self.targets else cluster.members[0]
        urls = [first.client_url, *(m.client_url for m in cluster.running() if m is not first)]
        clock = self.clock or time.monotonic_ns
        rec: dict[str, object] = {"change": what, "call": clock(), "return": None}
        self.detail.setdefault("changes", []).append(rec)
        change(urls, realm)
        rec["return"] = clock()

    def _start(self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None) -> list[Member]:
        hit = self.choose(cluster, rng, targets)
        realm = self._realm(cluster)
        assert realm is not None  # available() said so
        self.detail = {"target": self.target, "user": realm.layout.user}
        return hit


class _AuthToggle(_AuthFault):
    """A change at injection (``off``) undone at heal (``on``): (name, change) pairs."""

    off: ClassVar[tuple[str, Change]]
    on: ClassVar[tuple[str, Change]]

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        hit = self._start(cluster, rng, targets)
        self._apply(cluster, *self.off)
        return hit

    def heal(self, cluster: Cluster) -> None:
        if self._realm(cluster) is not None and self.detail.get("changes"):
            self._apply(cluster, *self.on)


class AuthRevokeFault(_AuthToggle):
    """Revoke the test user's role's permission on the churn range; granted again at heal."""

    name = "auth-revoke"
    off = ("revoke", cluster_auth.revoke_churn)
    on = ("grant", cluster_auth.grant_churn)


class AuthUserFault(_AuthToggle):
    """Delete the test user; at heal add it back with its role."""

    name = "auth-user"
    off = ("delete-user", cluster_auth.delete_user)
    on = ("add-user", cluster_auth.add_user)


class AuthPasswordFault(_AuthFault):
    """Change the test user's password: its tokens stop working and clients log in again."""

    name = "auth-password"
    instant = True

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        hit = self._start(cluster, rng, targets)
        self._apply(cluster, "password", cluster_auth.change_password)
        return hit
