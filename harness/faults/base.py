"""The fault interface and the injector that brackets every fault with health checks and records.

A fault only changes the cluster; the ``Injector`` decides when, checks health before and
after, and writes the ``start``/``end`` FaultRecords, so every fault's window appears in
the history the same way whatever it does.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from harness.cluster.base import Cluster, ClusterError, Member
from models.history import FaultRecord, NoteRecord

TARGETS = ("random", "leader", "follower", "all-but-one", "minority", "all", "restarted")


class FaultError(ClusterError):
    pass


def pick_targets(cluster: Cluster, rng: random.Random, target: str) -> list[Member]:
    """Members for a target selector; leader/follower are read from the members' status,
    ``restarted`` is the member the harness restarted last."""
    members = [m for m in cluster.members if m.state in ("running", "paused")]
    if not members:
        raise FaultError(f"cluster {cluster.name}: no running member to target")
    if target == "random":
        return [rng.choice(members)]
    if target == "all":
        return members
    if target == "restarted":
        # A crash loop: the member restarted last, hit again while it starts and
        # catches up; before any restart, a follower (a leader kill stalls writes).
        last = max(members, key=lambda m: m.restarted_at)
        if last.restarted_at:
            return [last]
        target = "follower"
    if target in ("leader", "follower"):
        leader = cluster.wait_leader(10)
        if target == "leader":
            return [leader]
        followers = [m for m in members if m is not leader]
        if not followers:
            raise FaultError("no follower in a one-member cluster")
        return [rng.choice(followers)]
    if target == "all-but-one":
        keep = rng.choice(members)
        return [m for m in members if m is not keep]
    if target == "minority":
        k = max(1, (len(members) - 1) // 2)
        return rng.sample(members, k)
    for m in members:
        if target == m.name:
            return [m]
    raise FaultError(f"unknown target {target!r} (choose from {', '.join(TARGETS)} or a member name)")


class Fault(ABC):
    """One kind of fault. ``inject`` returns the members it hit; ``heal`` undoes it."""

    name: ClassVar[str] = ""
    #: Faults that end by themselves (defrag, compaction, replace) have nothing to heal.
    instant: ClassVar[bool] = False
    #: Parameter names the fault takes besides ``target``.
    params_known: ClassVar[tuple[str, ...]] = ()
    #: Whether the injector holds the traffic still while it injects (a maintenance
    #: action in a lull): what the cluster does then is the fault's alone.
    quiet: bool = False

    def __init__(self, target: str = "random", **params: Any):
        unknown = sorted(set(params) - set(self.params_known))
        if unknown:
            raise FaultError(f"bad parameters for fault {self.name}: {', '.join(unknown)}")
        self.target = target
        self.params = params
        self.targets: list[Member] = []
        self.detail: dict[str, Any] = {}
        #: The history's clock, set by the injector, for faults that time their steps.
        self.clock: Callable[[], int] | None = None

    def available(self, cluster: Cluster) -> tuple[bool, str]:
        return True, ""

    @abstractmethod
    def inject(
        self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None = None
    ) -> list[Member]: ...

    def heal(self, cluster: Cluster) -> None:  # noqa: B027 - instant faults have nothing to undo
        """Undo the fault; must be safe to call twice and on a fault that half-applied."""

    def choose(self, cluster: Cluster, rng: random.Random, targets: Sequence[Member] | None) -> list[Member]:
        self.targets = list(targets) if targets else pick_targets(cluster, rng, self.target)
        return self.targets

    def __repr__(self) -> str:
        return f"{type(self).__name__}(target={self.target!r}, {self.params})"


Recorder = Callable[[Any], None] | Any


@dataclass
class Window:
    id: int
    fault: Fault
    started_ns: int
    healed: bool = False


@dataclass
class Injector:
    """Injects faults into one cluster and writes their windows through ``recorder``.

    ``recorder`` takes records (a HistoryWriter's ``write`` fits); ``clock`` gives the
    history's time (ns since the run started).
    """

    cluster: Cluster
    recorder: Recorder | None = None
    clock: Callable[[], int] | None = None
    rng: random.Random = field(default_factory=random.Random)
    health_timeout: float = 30.0
    #: Wait for a healthy cluster before and after every fault. Off, a member may be hit
    #: again while it is still catching up after a restart: a kill storm.
    health_checks: bool = True
    #: Holds the traffic for a quiet fault's injection (``Traffic.gate.hold``); None:
    #: no traffic to hold.
    hold: Callable[[], contextlib.AbstractContextManager[None]] | None = None
    active: list[Window] = field(default_factory=list)
    _next_id: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.clock is None:
            t0 = time.monotonic_ns()
            self.clock = lambda: time.monotonic_ns() - t0

    def _now(self) -> int:
        assert self.clock is not None
        return self.clock()

    def _write(self, rec: Any) -> None:
        """``recorder`` may be a callable or anything with ``write`` (a HistoryWriter)."""
        if self.recorder is None:
            return
        write = getattr(self.recorder, "write", None)
        (write or self.recorder)(rec)

    def note(self, text: str, **detail: Any) -> None:
        self._write(NoteRecord(time=self._now(), text=text, detail=detail))

    def check_health(self, when: str) -> bool:
        if not self.health_checks and when in ("before", "after"):
            return True
        try:
            self.cluster.wait_healthy(self.health_timeout)
        except ClusterError as exc:
            self.note(f"cluster unhealthy {when} fault", error=str(exc))
            return False
        return True

    def start(self, fault: Fault, targets: Sequence[Member] | None = None) -> Window:
        ok, why = fault.available(self.cluster)
        if not ok:
            raise FaultError(f"fault {fault.name} unavailable: {why}")
        self.check_health("before")
        with self._lock:
            fid = self._next_id
            self._next_id += 1
        t = self._now()
        error = None
        fault.clock = self.clock
        try:
            with self.hold() if fault.quiet and self.hold else contextlib.nullcontext():
                hit = fault.inject(self.cluster, self.rng, targets)
        except Exception as exc:  # noqa: BLE001 - recorded in the window, then raised as FaultError
            hit, error = fault.targets, str(exc) or type(exc).__name__
        names = [m.name for m in hit]
        self._write(
            FaultRecord(
                id=fid,
                phase="start",
                kind=fault.name,
                time=t,
                targets=names,
                detail=dict(fault.detail),
                error=error,
            )
        )
        w = Window(fid, fault, t)
        if fault.instant or error is not None:
            self._write(
                FaultRecord(
                    id=fid,
                    phase="end",
                    kind=fault.name,
                    time=self._now(),
                    targets=names,
                    detail=dict(fault.detail),
                    error=error,
                )
            )
            w.healed = True
            if error is not None:
                with contextlib.suppress(Exception):
                    fault.heal(self.cluster)
                raise FaultError(f"fault {fault.name} failed: {error}")
            self.check_health("after")
        else:
            self.active.append(w)
        return w

    def heal(self, w: Window) -> None:
        if w.healed:
            return
        error = None
        w.fault.clock = self.clock
        # The heal takes effect somewhere between its call and its return (a docker
        # unpause takes tens of ms): checks that ask "after the heal?" need both.
        sent = self._now()
        try:
            w.fault.heal(self.cluster)
        except Exception as exc:  # noqa: BLE001 - a heal that failed is recorded, the run goes on
            error = str(exc) or type(exc).__name__
        w.healed = True
        if w in self.active:
            self.active.remove(w)
        names = [m.name for m in w.fault.targets]
        self._write(
            FaultRecord(
                id=w.id,
                phase="end",
                kind=w.fault.name,
                time=self._now(),
                targets=names,
                detail={**w.fault.detail, "heal_sent": sent},
                error=error,
            )
        )
        self.check_health("after")

    def heal_all(self) -> bool:
        """Undo every open window, newest first, leave nothing stopped; True if then healthy."""
        for w in reversed(list(self.active)):
            self.heal(w)
        stray = [m for m in self.cluster.members if m.state in ("paused", "killed")]
        for m in stray:
            if m.state == "paused":
                self.cluster.resume(m)
            else:
                self.cluster.restart(m)
        return self.check_health("after heal-all") if stray else True

    def run(self, fault: Fault, duration: float, targets: Sequence[Member] | None = None) -> Window:
        """Inject, hold for ``duration`` seconds, heal: the common shape of a fault window."""
        w = self.start(fault, targets)
        if not w.healed:
            time.sleep(duration)
            self.heal(w)
        return w
