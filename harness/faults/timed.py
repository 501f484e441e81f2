"""Faults timed to what etcd is doing: a crash while it compacts or defragments.

A kill at a random moment rarely lands inside the few milliseconds a compaction or a
defragmentation spends rewriting the backend; the recovery of exactly that state is
where etcd lost revisions (etcd-io/etcd#17780, compaction) and diverged members
(etcd-io/etcd#14685, defragmentation). This fault sends the request and SIGKILLs the
member 0 to ``max_after_ms`` later, while the request may still run; healing restarts
it on its data.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence

from harness.cluster import admin
from harness.cluster.base import Cluster, Member
from harness.faults.base import Fault, FaultError

REQUESTS = ("compact", "defrag")


class CrashDuringFault(Fault):
    name = "crash-during"
    params_known = ("request", "max_after_ms", "keep")

    def __init__(
        self, target: str = "random", request: str = "compact", max_after_ms: float = 200.0, keep: int = 0
    ):
        if request not in REQUESTS:
            raise FaultError(f"crash-during: request must be one of {', '.join(REQUESTS)}, not {request!r}")
        if not 0 <= max_after_ms <= 10_000:
            raise FaultError(f"crash-during: max_after_ms must be in [0, 10000], not {max_after_ms}")
        super().__init__(target, request=request, max_after_ms=max_after_ms, keep=keep)
        self.request, self.max_after_ms, self.keep = request, max_after_ms, keep

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        member = self.choose(cluster, rng, targets)[0]
        self.targets = [member]
        after = rng.uniform(0.0, self.max_after_ms) / 1000.0
        self.detail = {"request": self.request, "after_ms": round(after * 1000, 1), "target": self.target}
        send = self._request(cluster, member)
        errors: list[str] = []
        thread = threading.Thread(target=_calling(send, errors), name="crash-during", daemon=True)
        thread.start()
        time.sleep(after)
        self.detail["pid"] = cluster.pid(member)
        cluster.kill(member)
        thread.join(timeout=15.0)
        # None: the request was answered before the kill; else how it ended.
        self.detail["request_error"] = errors[0] if errors else None
        return [member]

    def _request(self, cluster: Cluster, member: Member) -> Callable[[], None]:
        url = member.client_url
        if self.request == "defrag":
            return lambda: admin.defragment(url, timeout=10.0)
        rev = max(1, cluster.status(member).revision - self.keep)
        # Read as a compaction of unknown outcome from this time on (models/etcd/synthetic.py).
        self.detail["compact_revision"] = rev
        return lambda: admin.compact(url, rev, physical=True, timeout=10.0)

    def heal(self, cluster: Cluster) -> None:
        for m in self.targets:
            if m.state == "killed":
                cluster.restart(m)


def _calling(send: Callable[[], None], errors: list[str]) -> Callable[[], None]:
    def call() -> None:
        try:
            send()
        except Exception as exc:  # noqa: BLE001 - a request cut by the kill is the expected outcome
            errors.append(str(exc)[:200] or type(exc).__name__)

    return call
