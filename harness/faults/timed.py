"""Faults timed to what etcd is doing: a crash while it compacts or defragments, a
partition held until the member can only catch up from a snapshot.

A kill at a random moment rarely lands inside the few milliseconds a compaction or a
defragmentation spends rewriting the backend; the recovery of exactly that state is
where etcd lost revisions (etcd-io/etcd#17780, compaction) and diverged members
(etcd-io/etcd#14685, defragmentation). This fault sends the request and SIGKILLs the
member 0 to ``max_after_ms`` later, while the request may still run; healing restarts
it on its data.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from harness.cluster import admin
from harness.cluster.base import Cluster, Member
from harness.faults.base import Fault, FaultError
from harness.faults.network import PartitionFault
from harness.faults.process import KillFault

REQUESTS = ("compact", "defrag")
#: What a member logs once the request's work is done, not yet persisted: a compaction's
#: last batch (with the mark that it finished) and a defragmentation's rename wait for
#: the backend's next commit.
FINISHED = {"compact": "finished scheduled compaction", "defrag": "finished defragmenting directory"}
#: How long a kill ``at: finished`` waits for that line before it strikes anyway.
FINISH_WAIT_S = 5.0


class CrashDuringFault(KillFault):
    """A kill timed to a request; healed like any kill, by a restart on its data.

    ``at: delay`` kills 0 to ``max_after_ms`` after the request went out; ``at: finished``
    as soon as the member logs that the request's work is done, before the backend's
    next commit persists it (the moment etcd's own suite reaches with failpoints such as
    compactBeforeSetFinishedCompact). ``quiet`` holds the traffic still from before the
    request until the kill, as an operator compacts in a lull: what the member applies
    then is the request alone.
    """

    name = "crash-during"
    params_known = ("request", "max_after_ms", "keep", "at", "quiet")

    def __init__(
        self,
        target: str = "random",
        request: str = "compact",
        max_after_ms: float = 200.0,
        keep: int = 0,
        at: str = "delay",
        quiet: bool = False,
    ):
        if request not in REQUESTS:
            raise FaultError(f"crash-during: request must be one of {', '.join(REQUESTS)}, not {request!r}")
        if not 0 <= max_after_ms <= 10_000:
            raise FaultError(f"crash-during: max_after_ms must be in [0, 10000], not {max_after_ms}")
        if at not in ("delay", "finished"):
            raise FaultError(f"crash-during: at must be delay or finished, not {at!r}")
        if not isinstance(quiet, bool):
            raise FaultError(f"crash-during: quiet must be true or false, not {quiet!r}")
        super().__init__(target, request=request, max_after_ms=max_after_ms, keep=keep, at=at, quiet=quiet)
        self.request, self.max_after_ms, self.keep, self.at = request, max_after_ms, keep, at
        self.quiet = quiet

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        member = self.choose(cluster, rng, targets)[0]
        self.targets = [member]
        after = rng.uniform(0.0, self.max_after_ms) / 1000.0
        self.detail = {"request": self.request, "target": self.target, "at": self.at, "quiet": self.quiet}
        send = self._request(cluster, member)
        _, offset = cluster.log_tail(member, 0) if self.at == "finished" else ("", 0)
        errors: list[str] = []
        started = time.monotonic()
        thread = threading.Thread(target=_calling(send, errors), name="crash-during", daemon=True)
        thread.start()
        if self.at == "finished":
            self.detail["finished_seen"] = _await_line(cluster, member, offset, FINISHED[self.request])
            after = time.monotonic() - started
        else:
            time.sleep(after)
        self.detail["after_ms"] = round(after * 1000, 1)
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
        if self.at == "finished" and rev > 2:
            _settle_below(url, rev)
        # A physical compaction's answer waits for the deletes and then forces a backend
        # commit: a kill timed to the finish asks for a plain one, as auto-compaction and
        # the apiserver do, which leaves the finish to the next periodic commit.
        physical = self.at != "finished"
        return lambda: admin.compact(url, rev, physical=physical, timeout=10.0)


def _settle_below(url: str, rev: int) -> None:
    """Compact (and commit) up to just below ``rev`` first, so that the compaction the
    kill is timed to has only the head revision and the live keys left to go through:
    it finishes within the wait whatever the batch limit and the history's length.
    Refused (compacted already, or a member down) it changes nothing."""
    with contextlib.suppress(Exception):
        admin.compact(url, rev - 1, physical=True, timeout=FINISH_WAIT_S)


def _await_line(cluster: Cluster, member: Member, offset: int, line: str) -> bool:
    """Follow the member's log from ``offset`` until ``line`` shows (True) or
    ``FINISH_WAIT_S`` passed (False)."""
    deadline = time.monotonic() + FINISH_WAIT_S
    seen = ""
    while time.monotonic() < deadline:
        text, offset = cluster.log_tail(member, offset)
        seen = seen[-len(line) :] + text
        if line in seen:
            return True
        time.sleep(0.002)
    return False


def _calling(send: Callable[[], None], errors: list[str]) -> Callable[[], None]:
    def call() -> None:
        try:
            send()
        except Exception as exc:  # noqa: BLE001 - a request cut by the kill is the expected outcome
            errors.append(str(exc)[:200] or type(exc).__name__)

    return call


#: Entries a leader keeps after a snapshot for followers that lag (etcd's
#: snapshotCatchUpEntries), and etcd's own --snapshot-count.
CATCH_UP_ENTRIES = 5000
DEFAULT_SNAPSHOT_COUNT = 100_000
#: Beyond the bare count: the leader compacts its log only once the snapshot it took
#: (in a goroutine, up to snapshot-count entries back) is saved, and the index the
#: isolated member reports is its committed one, behind the entries it had appended;
#: a lag just past the count can still be served from the log (CI on a clean clone saw it).
LAG_SLACK = 1000


class SnapshotLagFault(PartitionFault):
    """Isolate a member until the others' log has moved on by more than the leader keeps
    for a follower (snapshot-count plus the catch-up entries), or ``max_s`` passed: healed,
    it can only catch up from a snapshot, a recovery path of its own (watches restored
    from a snapshot replayed old events, etcd-io/etcd#15271). ``reached`` in the record
    says whether the lag got there."""

    name = "partition-snapshot"
    params_known: ClassVar[tuple[str, ...]] = ("mode", "max_s")

    def __init__(self, target: str = "follower", max_s: float = 10.0, mode: str = "isolate"):
        if mode != "isolate" or not 0 < max_s <= 60:
            raise FaultError(f"partition-snapshot: isolate for at most (0, 60] s, not {mode} for {max_s}")
        Fault.__init__(self, target, mode=mode, max_s=max_s)
        self.mode, self.max_s = mode, max_s

    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]:
        side = super().inject(cluster, rng, targets)
        rest = [m for m in cluster.members if m not in side and m.state == "running"]
        needed = (cluster.config.snapshot_count or DEFAULT_SNAPSHOT_COUNT) + CATCH_UP_ENTRIES + LAG_SLACK
        start = _raft_index(cluster, side)
        lag, deadline = 0, time.monotonic() + self.max_s
        while start is not None and time.monotonic() < deadline:
            lag = max(0, (_raft_index(cluster, rest) or start) - start)
            if lag > needed:
                break
            time.sleep(0.2)
        self.detail.update(lag=lag, needed=needed, reached=lag > needed)
        return side


def _raft_index(cluster: Cluster, members: Sequence[Member]) -> int | None:
    """The highest raft index among ``members`` that answer."""
    names = {m.name for m in members}
    found = [s.raft_index for name, s in cluster.statuses().items() if s is not None and name in names]
    return max(found, default=None)
