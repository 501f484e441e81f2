"""The build and cluster version of every member, sampled through a run whose versions change.

etcd raises the cluster version once every member runs the newer minor and never lowers
it; a member that reports it going back, or ahead of a member still on the older build,
broke the upgrade's promise (checked by :mod:`models.etcd.cluster_version`). Samples go
to the history as status records that carry only the two versions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from harness.cluster import admin
from models.history import StatusRecord

#: Seconds between two rounds over the members; a round asks each member once.
INTERVAL_S = 0.5
#: A member that does not answer within this is skipped for the round (killed, paused).
TIMEOUT_S = 0.5


def sample_versions(endpoints: Sequence[str], write: Callable[[Any], None], clock: Callable[[], int]) -> None:
    """One round: a sample per member that answered."""
    for ep in endpoints:
        try:
            server, cluster = admin.versions(ep, timeout=TIMEOUT_S)
        except admin.AdminError:
            continue
        write(StatusRecord(time=clock(), member=ep, server_version=server, cluster_version=cluster))


class VersionSampler:
    """Rounds every ``INTERVAL_S`` in a thread from ``start`` to ``stop``, which takes a
    last round once the faults are healed."""

    def __init__(self, endpoints: Sequence[str], write: Callable[[Any], None], clock: Callable[[], int]):
        self.endpoints = list(endpoints)
        self.write = write
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="versions", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        sample_versions(self.endpoints, self.write, self.clock)

    def _loop(self) -> None:
        while not self._stop.is_set():
            sample_versions(self.endpoints, self.write, self.clock)
            self._stop.wait(INTERVAL_S)
