"""One run, end to end: plan -> cluster -> traffic, watchers and faults -> history -> checks.

Orchestration only: the options are checked by :mod:`harness.run_options`, the cluster
comes from :mod:`harness.cluster`, the traffic, watchers and the end-of-run protocol
from :mod:`harness.traffic`, the fault schedule from :mod:`harness.faults.schedule`, and
the checks, summary and report from :mod:`harness.conclusion`. The history is written
while the run goes on; whatever stops the run (the end of the plan, Ctrl-C, SIGTERM,
an exception) the cluster is torn down, the history is closed and kept, and the checks
run on what was recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import shlex
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from harness import __version__, auth
from harness.client.recorder import Clock, Counter
from harness.cluster import Cluster, ClusterConfig, make_cluster
from harness.cluster import auth as cluster_auth
from harness.cluster.binaries import EtcdBinary, resolve
from harness.cluster.versions import UpgradeStep, check_version_changes, member_count, resolve_members
from harness.conclusion import RunResult, conclude
from harness.errors import DiskFullError, UsageError
from harness.faults import Injector
from harness.faults.schedule import run_schedule
from harness.history.jsonl import HistoryWriter
from harness.run_options import (
    RunOptions,
    default_out_dir,
    preflight_endpoints,
    prepare_out_dir,
    validate_options,
)
from harness.signals import interruptible, signal_of
from harness.traffic.explore import describe, explore_scenario
from harness.traffic.finish import sentinels, settle_and_sample
from harness.traffic.plan import Plan, auth_layout, make_plan
from harness.traffic.versions import VersionSampler
from harness.traffic.watchers import PROGRESS_NOTIFY_FLAG, WATCHER_CLIENT_BASE, Watchers
from harness.traffic.workers import Workers
from harness.traffic.workload import Traffic
from models.history import EndRecord, Header, NoteRecord
from scenarios import Scenario, get_scenario

__all__ = ["RunOptions", "RunResult", "run"]

#: Seconds of traffic an explored run draws for when --duration does not say.
EXPLORE_DURATION = 20.0

Progress = Callable[[dict[str, Any]], None]


def run(opts: RunOptions, on_progress: Progress | None = None) -> RunResult:
    """One run; stopped by SIGINT, SIGTERM or SIGHUP it still tears down, closes the
    history as "interrupted", checks what was recorded and writes the summary."""
    with interruptible():
        validate_options(opts)
        members = opts.members or member_count(opts.etcd_version, opts.etcd)
        scn = _scenario(opts, members)
        plan = opts.plan or make_plan(
            scn,
            opts.seed,
            duration=opts.duration,
            qps=opts.qps,
            members=members,
            drawn=describe(scn) if opts.explore else None,
        )
        binaries = _binaries(opts, plan, scn)
        plan = msgspec.structs.replace(plan, auth=plan.auth or opts.auth or scn.auth)
        if binaries is not None:
            tls = plan.tls or opts.tls or scn.tls
            plan = msgspec.structs.replace(plan, etcd_versions=[b.version for b in binaries], tls=tls)
        out = Path(opts.out) if opts.out else default_out_dir(plan.scenario, plan.seed)
        prepare_out_dir(out)
        try:
            (out / "plan.json").write_bytes(plan.to_json())
        except OSError as exc:
            raise DiskFullError(f"cannot write {out / 'plan.json'}: {exc.strerror or exc}") from None
        scn = _settings(plan, scn)
        # The password the auth faults change lives here: with auth, the traffic stays here too.
        workers = 1 if plan.auth else opts.workers
        recording = Recording(plan, scn, _cluster(opts, plan, scn, out, binaries), workers=workers)
        interrupted = recording.record(out, on_progress)
        if recording.writer is not None and recording.writer.error is not None:
            # Whatever was recorded stays; nothing more can be written there, not even a summary.
            raise DiskFullError(recording.writer.error_message())
        reproduce = f"etcd-harness reproduce {shlex.quote(str(out))}"
        return conclude(out, plan, opts.check_timeout, reproduce, interrupted, recording.traffic)


def _scenario(opts: RunOptions, members: int | None) -> Scenario:
    """The named scenario, the one exploration draws for the builds under test (flags
    every one of them takes), or for a replayed plan the scenario it names (the plan's
    own settings win, see `_settings`)."""
    if opts.plan is not None:
        try:
            return get_scenario(opts.plan.scenario)
        except LookupError:
            return Scenario(name=opts.plan.scenario, description="(from plan)", members=opts.plan.members)
    if opts.explore:
        from harness.cluster.binaries import supported_flags

        builds = resolve_members(opts.etcd_version, opts.etcd, members or 1)
        flags = frozenset.intersection(*(supported_flags(b.path) for b in set(builds)))
        scn = explore_scenario(opts.seed, flags, opts.duration or EXPLORE_DURATION)
        return dataclasses.replace(scn, members=members) if members else scn
    return get_scenario(opts.scenario)


def _binaries(opts: RunOptions, plan: Plan, scn: Scenario) -> list[EtcdBinary] | None:
    """The build of every member, and those its upgrades swap in (installed now): the
    command line's, else the replayed plan's, else the scenario's, else the default.
    A change of versions etcd would refuse stops the run here."""
    if opts.endpoints is not None:
        return None
    named = opts.etcd or opts.etcd_version
    if named and scn.etcd_versions:
        fixed = ", ".join(scn.etcd_versions)
        raise UsageError(
            f"scenario {scn.name} starts on the builds it names ({fixed}); drop --etcd/--etcd-version"
        )
    versions = opts.etcd_version if named else ",".join(plan.etcd_versions or scn.etcd_versions) or None
    binaries = resolve_members(versions, opts.etcd, plan.members)
    steps = upgrade_steps(plan)
    check_version_changes([b.version for b in binaries], steps)
    for step in steps:
        resolve(step.to)
    return binaries


def upgrade_steps(plan: Plan) -> list[UpgradeStep]:
    return [UpgradeStep(f.target, str(f.params.get("to", ""))) for f in plan.faults if f.fault == "upgrade"]


def _settings(plan: Plan, scn: Scenario) -> Scenario:
    """The cluster settings to run: the plan's, or for a plan written before plans
    recorded them, its named scenario's."""
    if plan.etcd_args is None:
        return scn
    return dataclasses.replace(
        scn,
        etcd_args=tuple(plan.etcd_args),
        snapshot_count=plan.snapshot_count,
        heartbeat_ms=plan.heartbeat_ms,
        election_ms=plan.election_ms,
        fault_health_checks=True if plan.fault_health_checks is None else plan.fault_health_checks,
    )


def _cluster(
    opts: RunOptions, plan: Plan, scn: Scenario, out: Path, binaries: list[EtcdBinary] | None
) -> Cluster | list[str]:
    """A cluster to start, or the endpoints of one the harness does not own."""
    if opts.endpoints is not None or binaries is None:
        preflight_endpoints(opts.endpoints or [])
        return opts.endpoints or []
    progress = PROGRESS_NOTIFY_FLAG.partition("=")[0]
    default_flags = [] if any(a.startswith(progress) for a in scn.etcd_args) else [PROGRESS_NOTIFY_FLAG]
    defaults = ClusterConfig()
    cfg = ClusterConfig(
        size=plan.members,
        heartbeat_ms=scn.heartbeat_ms or defaults.heartbeat_ms,
        election_ms=scn.election_ms or defaults.election_ms,
        snapshot_count=opts.snapshot_count if opts.snapshot_count is not None else scn.snapshot_count,
        extra_flags=[*scn.etcd_args, *default_flags],
        peer_proxy=any(f.fault == "delay" for f in plan.faults),
        tls=plan.tls,
    )
    return make_cluster(opts.backend, plan.members, binaries, out / "cluster", netns=opts.netns, config=cfg)


class _Started:
    """A daemon thread that says when its target returned. ``Thread.join`` cannot: on
    CPython 3.11 a join that Ctrl-C interrupts leaves the thread marked stopped while it
    still runs, so every later join and ``is_alive`` answer at once, and the run went on
    to the end-of-run protocol (and merged the workers' parts) under running traffic."""

    def __init__(self, target: Callable[..., Any], name: str, *args: Any):
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(target, args), name=name, daemon=True)
        self.thread.start()

    def _run(self, target: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            target(*args)
        finally:
            self.done.set()


class Recording:
    """The recorded part of a run: the cluster up, traffic, watchers and faults on it,
    the end-of-run protocol, the history closed and the cluster down."""

    def __init__(self, plan: Plan, scn: Scenario, target: Cluster | list[str], *, workers: int = 1):
        self.plan = plan
        self.workers = workers
        self.scn = scn
        self.cluster = target if isinstance(target, Cluster) else None
        self.endpoints: list[str] = [] if isinstance(target, Cluster) else list(target)
        self.clock = Clock()
        self.ids = Counter()
        self.writer: HistoryWriter | None = None
        self.traffic: Traffic | Workers | None = None
        #: Members run different builds now or later: their versions are sampled.
        self.versions_change = False

    def record(self, out: Path, on_progress: Progress | None) -> int | None:
        """Run it all; the signal that stopped it, or None."""
        interrupted: int | None = None
        try:
            self.writer = self._start(out)
            interrupted = self._traffic(self.writer, on_progress)
        except KeyboardInterrupt as exc:
            interrupted = signal_of(exc)
        finally:
            if self.writer is not None:
                reason = "interrupted" if interrupted else "finished"
                self.writer.close(EndRecord(time=self.clock(), reason=reason))
            if self.cluster is not None:
                self.cluster.stop()
        return interrupted

    def _start(self, out: Path) -> HistoryWriter:
        versions: list[str] = []
        if self.cluster is not None:
            self.cluster.start()
            self.endpoints = self.cluster.endpoints()
            versions = sorted({*self.cluster.versions(), *(s.to for s in upgrade_steps(self.plan))})
            self.versions_change = len(versions) > 1
        realm = self._auth()
        # Time 0 of the history: the clock and the header's wall time start together.
        self.clock = Clock()
        header = Header(
            tool_version=__version__,
            scenario=self.plan.scenario,
            seed=self.plan.seed,
            cluster=self.cluster.describe()
            if self.cluster is not None
            else {"backend": "external", "endpoints": self.endpoints},
            etcd_versions=versions,
            start_time=dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            model="etcd",
        )
        if realm is not None:
            header.cluster["auth"] = realm.layout.as_dict()
        return HistoryWriter(out / "history.jsonl", header)

    def _auth(self) -> auth.Realm | None:
        """The run's identities: made and turned on for a cluster the harness started,
        or those the caller registered for the endpoints it gave."""
        if not self.plan.auth:
            return None
        if self.cluster is None:
            return auth.realm_for(self.endpoints[0]) if self.endpoints else None
        realm = auth.Realm(auth_layout(self.plan.profile, self.plan.keyspace))
        cluster_auth.enable(self.endpoints, realm)
        return realm

    def _traffic(self, writer: HistoryWriter, on_progress: Progress | None) -> int | None:
        plan, clock = self.plan, self.clock
        traffic = self.traffic = (
            Workers(
                plan,
                self.endpoints,
                writer,
                clock,
                self.ids,
                qps=plan.qps,
                duration=plan.duration,
                workers=self.workers,
            )  # fmt: skip
            if self.workers > 1
            else Traffic(plan, self.endpoints, writer, clock, self.ids, qps=plan.qps, duration=plan.duration)
        )
        watchers = Watchers(
            plan, self.endpoints, writer, clock, self.ids, Counter(), client_base=WATCHER_CLIENT_BASE
        )
        deadline = time.monotonic() + plan.duration
        injector = None
        if self.cluster is not None:
            injector = Injector(
                self.cluster,
                writer.write,
                clock,
                health_checks=self.scn.fault_health_checks,
                hold=traffic.gate.hold,
            )
        elif plan.faults:
            writer.write(
                NoteRecord(time=clock(), text="faults skipped: the harness does not own this cluster")
            )
        sampler = VersionSampler(self.endpoints, writer.write, clock) if self.versions_change else None
        if sampler is not None:
            sampler.start()
        watchers.start(deadline)
        interrupted = self._load(traffic, injector, deadline, on_progress)
        if isinstance(traffic, Workers):
            traffic.merge()
        try:
            if writer.error is not None:
                watchers.finish(None, timeout=0.5)
                return interrupted
            targets = None if interrupted else sentinels(watchers, self.endpoints, writer, clock, self.ids)
            watchers.finish(targets, timeout=0.5 if interrupted else 10.0)
            if not interrupted:
                settle_and_sample(self.cluster, self.endpoints, writer, clock, self.ids, plan)
        finally:
            if sampler is not None:
                sampler.stop()
        return interrupted

    def _load(
        self,
        traffic: Traffic | Workers,
        injector: Injector | None,
        deadline: float,
        on_progress: Progress | None,
    ) -> int | None:
        """Traffic (and the fault schedule) until the deadline or a signal; then every
        fault healed."""
        threads = [_Started(traffic.run, "traffic")]
        stop_faults = threading.Event()
        if injector is not None:
            args = (self.plan.faults, injector, deadline - self.plan.duration, deadline, stop_faults)
            threads.append(_Started(run_schedule, "faults", *args))
        interrupted: int | None = None
        try:
            self._wait(threads[0], traffic, injector, deadline, on_progress)
        except KeyboardInterrupt as exc:
            interrupted = signal_of(exc)
            assert self.writer is not None
            self.writer.write(
                NoteRecord(time=self.clock(), text=f"interrupted by {signal.Signals(interrupted).name}")
            )
        finally:
            traffic.stop.set()
            stop_faults.set()
            for t in threads:
                t.done.wait(timeout=30)
            if injector is not None:
                with contextlib.suppress(Exception):
                    injector.heal_all()
        return interrupted

    def _wait(
        self,
        thread: _Started,
        traffic: Traffic | Workers,
        injector: Injector | None,
        deadline: float,
        on_progress: Progress | None,
    ) -> None:
        start = time.monotonic()
        writer = self.writer
        assert writer is not None
        # Bounded: the traffic thread ends by the deadline; allow for slow heals after it.
        while not thread.done.is_set() and time.monotonic() < deadline + 60 and writer.error is None:
            thread.done.wait(timeout=0.25)
            if on_progress is not None:
                snap = traffic.stats.snapshot()
                elapsed = time.monotonic() - start
                snap["elapsed"] = elapsed
                snap["duration"] = self.plan.duration
                snap["qps"] = snap["ops"] / elapsed if elapsed > 0 else 0.0  # type: ignore[operator]
                active = injector.active if injector else []
                snap["faults"] = [
                    f"{w.fault.name}:{','.join(m.name for m in w.fault.targets)}" for w in active
                ]
                on_progress(snap)
