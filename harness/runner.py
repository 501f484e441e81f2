"""One run, end to end: plan -> cluster -> traffic, watchers and faults -> history -> checks.

The history is written while the run goes on; whatever stops the run (the end of the
plan, Ctrl-C, SIGTERM, an exception) the cluster is torn down, the history is closed
and kept, and the checks run on what was recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import math
import os
import random
import shlex
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from harness import __version__
from harness.client.etcd import EtcdClient
from harness.client.recorder import Clock, Counter, Recorder
from harness.cluster import Cluster, ClusterConfig, make_cluster
from harness.errors import DiskFullError, HarnessError, UsageError
from harness.faults import FaultError, Injector, make_fault
from harness.history.jsonl import HistoryWriter, read_history
from harness.signals import Interrupted, interruptible
from harness.traffic.ops import prefix_end, range_op
from harness.traffic.plan import Plan, key_prefix, make_plan
from harness.traffic.watchers import PROGRESS_NOTIFY_FLAG, Watchers
from harness.traffic.workload import Traffic
from models.check import check
from models.etcd.requests import header_revision, writes_of
from models.history import EndRecord, Header, NoteRecord, StatusRecord
from models.verdict import Verdict
from scenarios import Scenario, get_scenario

#: Client ids above this are the harness's own (watchers, final reads).
WATCHER_CLIENT_BASE = 10_000
FINAL_CLIENT_BASE = 20_000
SENTINEL_CLIENT = 19_999


@dataclass
class RunOptions:
    scenario: str
    seed: int
    backend: str = "process"
    etcd: str | None = None
    etcd_version: str | None = None
    members: int | None = None
    duration: float | None = None
    qps: float | None = -1.0  # -1: the scenario's; 0: unthrottled
    out: str | None = None
    endpoints: list[str] | None = None
    netns: bool | None = None
    check_timeout: float = 300.0
    plan: Plan | None = None  # reproduce: replay this plan instead of drawing one
    progress: bool = True
    snapshot_count: int | None = None


@dataclass
class RunResult:
    """A run: where its artifacts are, its summary, and the verdict of its check (with
    "tested too little" already applied: such a run is ``unknown``)."""

    out_dir: Path
    check: Verdict
    summary: dict[str, Any]
    reproduce: str
    #: The signal that stopped the run (SIGINT, SIGTERM, SIGHUP), or None.
    interrupted: int | None = None
    explanation: list[str] = field(default_factory=list)
    #: The checker crashed: a bug of the harness, reported with its own exit code.
    internal_error: str | None = None

    @property
    def verdict(self) -> str:
        return self.check.verdict

    @property
    def anomalies(self) -> list[dict[str, Any]]:
        return self.check.anomaly_dicts()


def default_out_dir(scn: str, seed: int) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{scn}-seed{seed}-{stamp}"


#: Most members a run starts: quorum traffic and the machine's two cores bound it.
MAX_MEMBERS = 9


def validate_options(opts: RunOptions) -> None:
    """Reject options that cannot work before anything is started (exit 2)."""
    if opts.members is not None and not 1 <= opts.members <= MAX_MEMBERS:
        raise UsageError(f"--members must be between 1 and {MAX_MEMBERS}, not {opts.members}")
    if opts.duration is not None and not (math.isfinite(opts.duration) and opts.duration > 0):
        raise UsageError(f"--duration must be a positive number of seconds, not {opts.duration:g}")
    if opts.qps is not None and opts.qps != -1.0 and not (math.isfinite(opts.qps) and opts.qps > 0):
        raise UsageError(f"--qps must be positive (0: unthrottled), not {opts.qps:g}")
    if opts.snapshot_count is not None and opts.snapshot_count < 1:
        raise UsageError(f"--snapshot-count must be at least 1, not {opts.snapshot_count}")
    if not (math.isfinite(opts.check_timeout) and opts.check_timeout > 0):
        raise UsageError(f"--check-timeout must be a positive number of seconds, not {opts.check_timeout:g}")
    if opts.endpoints is not None:
        if not opts.endpoints:
            raise UsageError("--endpoints needs at least one URL (http://HOST:PORT)")
        for ep in opts.endpoints:
            parse_endpoint(ep)


def parse_endpoint(url: str) -> tuple[str, int]:
    """(host, port) of an ``http://HOST:PORT`` client URL; one clear error otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        port = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise UsageError(f"bad endpoint {url!r}: want http://HOST:PORT")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(f"bad endpoint {url!r}: want http://HOST:PORT, nothing after the port")
    return parts.hostname, port


def prepare_out_dir(out: Path) -> None:
    """Create the artifact directory and prove it writable before a cluster is started."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None


def preflight_endpoints(endpoints: list[str]) -> None:
    """A cluster the harness did not start must answer, and be fresh: the model starts
    from revision 1, an empty store, so earlier writes would read as phantom ones."""
    for ep in endpoints:
        try:
            with EtcdClient(ep, timeout=3.0) as c:
                st = c.status(timeout=3.0)
        except Exception as exc:  # noqa: BLE001 - any failure means: nothing to test there
            why = getattr(exc, "message", "") or str(exc) or type(exc).__name__
            raise HarnessError(f"cannot reach {ep}: {why.splitlines()[0][:200]}") from None
        if st.header.revision > 1:
            raise HarnessError(
                f"{ep} is at revision {st.header.revision}: the checks need a fresh cluster "
                "(revision 1, nothing written yet)"
            )


def run(opts: RunOptions, on_progress: Callable[[dict[str, Any]], None] | None = None) -> RunResult:
    """One run; stopped by SIGINT, SIGTERM or SIGHUP it still tears down, closes the
    history as "interrupted", checks what was recorded and writes the summary."""
    with interruptible():
        return _run(opts, on_progress)


def _run(opts: RunOptions, on_progress: Callable[[dict[str, Any]], None] | None) -> RunResult:
    validate_options(opts)
    scn = get_scenario(opts.scenario) if opts.plan is None else _scenario_for(opts.plan)
    plan = opts.plan or make_plan(scn, opts.seed, duration=opts.duration, qps=opts.qps, members=opts.members)
    out = Path(opts.out) if opts.out else default_out_dir(plan.scenario, plan.seed)
    prepare_out_dir(out)
    try:
        (out / "plan.json").write_bytes(plan.to_json())
    except OSError as exc:
        raise DiskFullError(f"cannot write {out / 'plan.json'}: {exc.strerror or exc}") from None
    reproduce = f"etcd-harness reproduce {shlex.quote(str(out))}"

    cluster: Cluster | None = None
    endpoints = opts.endpoints
    versions: list[str] = []
    if endpoints is None:
        from harness.cluster.binaries import resolve

        binary = resolve(opts.etcd_version, opts.etcd)
        cfg = ClusterConfig(
            size=plan.members,
            snapshot_count=opts.snapshot_count if opts.snapshot_count is not None else scn.snapshot_count,
            extra_flags=[*scn.etcd_args, PROGRESS_NOTIFY_FLAG],
            peer_proxy=any(f.fault == "delay" for f in plan.faults),
        )
        cluster = make_cluster(
            opts.backend, plan.members, binary, out / "cluster", netns=opts.netns, config=cfg
        )
    else:
        preflight_endpoints(endpoints)

    interrupted: int | None = None
    traffic: Traffic | None = None
    clock = Clock()
    writer: HistoryWriter | None = None
    try:
        if cluster is not None:
            cluster.start()
            endpoints = cluster.endpoints()
            versions = sorted(set(cluster.versions()))
        assert endpoints is not None
        # Time 0 of the history: the clock and the header's wall time start together.
        clock = Clock()
        started_wall = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        header = Header(
            tool_version=__version__,
            scenario=plan.scenario,
            seed=plan.seed,
            cluster=cluster.describe()
            if cluster is not None
            else {"backend": "external", "endpoints": endpoints},
            etcd_versions=versions,
            start_time=started_wall,
            model="etcd",
        )
        writer = HistoryWriter(out / "history.jsonl", header)
        ids, watch_ids = Counter(), Counter()
        traffic = Traffic(plan, endpoints, writer, clock, ids, qps=plan.qps, duration=plan.duration)
        watchers = Watchers(plan, endpoints, writer, clock, ids, watch_ids, client_base=WATCHER_CLIENT_BASE)
        deadline = time.monotonic() + plan.duration
        injector = (
            Injector(cluster, writer.write, clock, health_checks=scn.fault_health_checks)
            if cluster is not None
            else None
        )
        watchers.start(deadline)
        threads = [threading.Thread(target=traffic.run, name="traffic", daemon=True)]
        stop_faults = threading.Event()
        if injector is not None:
            threads.append(
                threading.Thread(
                    target=_run_faults,
                    args=(plan, injector, deadline, stop_faults),
                    name="faults",
                    daemon=True,
                )
            )
        elif plan.faults:
            writer.write(
                NoteRecord(time=clock(), text="faults skipped: the harness does not own this cluster")
            )
        for t in threads:
            t.start()
        try:
            _wait(threads, traffic, injector, plan, deadline, on_progress, writer)
        except KeyboardInterrupt as exc:
            interrupted = signal_of(exc)
            writer.write(NoteRecord(time=clock(), text=f"interrupted by {signal.Signals(interrupted).name}"))
        finally:
            traffic.stop.set()
            stop_faults.set()
            for t in threads:
                t.join(timeout=30)
            if injector is not None:
                with contextlib.suppress(Exception):
                    injector.heal_all()
        if writer.error is None:
            targets = None if interrupted else _sentinels(watchers, endpoints, writer, clock, ids)
            watchers.finish(targets, timeout=0.5 if interrupted else 10.0)
            if not interrupted:
                _settle_and_sample(cluster, endpoints, writer, clock, ids, plan)
        else:
            watchers.finish(None, timeout=0.5)
    except KeyboardInterrupt as exc:
        interrupted = signal_of(exc)
    finally:
        if writer is not None:
            writer.close(EndRecord(time=clock(), reason="interrupted" if interrupted else "finished"))
        if cluster is not None:
            cluster.stop()
    if writer is not None and writer.error is not None:
        # Whatever was recorded stays; nothing more can be written there, not even a summary.
        raise DiskFullError(writer.error_message())
    return _conclude(out, plan, opts, reproduce, interrupted, traffic)


def signal_of(exc: BaseException) -> int:
    return exc.signum if isinstance(exc, Interrupted) else signal.SIGINT


def _scenario_for(plan: Plan) -> Scenario:
    try:
        return get_scenario(plan.scenario)
    except LookupError:
        return Scenario(name=plan.scenario, description="(from plan)", members=plan.members)


def _wait(
    threads: list[threading.Thread],
    traffic: Traffic,
    injector: Injector | None,
    plan: Plan,
    deadline: float,
    on_progress: Callable[[dict[str, Any]], None] | None,
    writer: HistoryWriter,
) -> None:
    start = time.monotonic()
    # Bounded: the traffic thread ends by the deadline; allow for slow heals after it.
    while threads[0].is_alive() and time.monotonic() < deadline + 60 and writer.error is None:
        threads[0].join(timeout=0.25)
        if on_progress is not None:
            snap = traffic.stats.snapshot()
            elapsed = time.monotonic() - start
            snap["elapsed"] = elapsed
            snap["duration"] = plan.duration
            snap["qps"] = snap["ops"] / elapsed if elapsed > 0 else 0.0  # type: ignore[operator]
            snap["faults"] = (
                [f"{w.fault.name}:{','.join(m.name for m in w.fault.targets)}" for w in injector.active]
                if injector
                else []
            )
            on_progress(snap)


def _run_faults(plan: Plan, injector: Injector, deadline: float, stop: threading.Event) -> None:
    start = deadline - plan.duration
    for step in plan.faults:
        wait = start + step.at - time.monotonic()
        if wait > 0 and stop.wait(wait):
            return
        if stop.is_set() or time.monotonic() + step.duration > deadline:
            return
        injector.rng = random.Random(step.pick)
        try:
            fault = make_fault(step.fault, target=step.target, **step.params)
            ok, why = fault.available(injector.cluster)
            if not ok:
                injector.note(f"fault {step.fault} skipped: {why}")
                continue
            w = injector.start(fault)
            if not w.healed:
                stop.wait(step.duration)
                injector.heal(w)
        except FaultError as exc:
            injector.note(f"fault {step.fault} failed: {exc}")


def _sentinels(
    watchers: Watchers, endpoints: list[str], writer: HistoryWriter, clock: Clock, ids: Counter
) -> dict[str, int]:
    """Write each watcher's sentinel key once (recorded like any traffic)."""
    from harness.traffic.ops import put_op

    revisions: dict[str, int] = {}
    for i, key in enumerate(sorted(watchers.sentinels())):
        for attempt in range(len(endpoints) * 3):
            ep = endpoints[(i + attempt) % len(endpoints)]
            with EtcdClient(ep, timeout=5.0) as c:
                rec = Recorder(c, writer, clock, ids, SENTINEL_CLIENT)
                r = rec.execute(put_op(key, f"sentinel-{i}"), 5.0)
            if r.status == "ok":
                revisions[key] = int(r.output["header"]["revision"])
                break
            time.sleep(0.2)
    return revisions


def _settle_and_sample(
    cluster: Cluster | None,
    endpoints: list[str],
    writer: HistoryWriter,
    clock: Clock,
    ids: Counter,
    plan: Plan,
) -> int | None:
    """After traffic: wait until members agree on a revision, then read everything per
    member (linearizable and serializable reads go into the history) and record HashKV at
    the common revision, so convergence can be judged."""
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.wait_healthy(30)
    p = key_prefix(plan.profile)
    revisions: dict[str, int] = {}
    for _ in range(50):
        revisions = {}
        applied: set[int] = set()
        for ep in endpoints:
            with contextlib.suppress(Exception), EtcdClient(ep, timeout=2.0) as c:
                st = c.status(timeout=2.0)
                revisions[ep] = st.header.revision
                applied.add(st.raftAppliedIndex)
        if len(revisions) == len(endpoints) and (
            len(set(revisions.values())) == 1 or (len(applied) == 1 and 0 not in applied)
        ):
            # Equal revisions, or every member applied the same log and they still
            # differ: diverged, and waiting longer will not change it.
            break
        time.sleep(0.2)
    common = min(revisions.values()) if revisions else None
    hashes: dict[str, tuple[int, int]] = {}
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(EtcdClient(ep, timeout=5.0)) for ep in endpoints]
        for i, c in enumerate(clients):
            rec = Recorder(c, writer, clock, ids, FINAL_CLIENT_BASE + i)
            rec.execute(range_op(p, prefix_end(p)), 5.0)
            rec.execute(range_op(p, prefix_end(p), serializable=True), 5.0)
        # Status after every final read: the convergence check compares revisions only
        # in samples taken once the last operation returned, and only where two samples
        # in a row agree (nothing was applied between them).
        for ep, c in zip(endpoints, clients, strict=True):
            sample = _status_sample(c, ep, clock, common)
            writer.write(sample)
            if sample.hash is not None:
                hashes[ep] = (sample.hash, sample.compact_revision or 0)
        for ep, c in zip(endpoints, clients, strict=True):
            writer.write(_status_sample(c, ep, clock, None))
    if common and len({h for h, _ in hashes.values()}) > 1:
        _bisect_hashes(endpoints, writer, clock, max(c for _, c in hashes.values()), common)
    return common


def _status_sample(c: EtcdClient, ep: str, clock: Clock, hash_revision: int | None) -> StatusRecord:
    """One Status of ``ep`` (and its HashKV at ``hash_revision``), errors included."""
    sample = StatusRecord(time=0, member=ep)
    try:
        st = c.status(timeout=5.0)
        sample.revision = st.header.revision
        sample.raft_index = st.raftIndex
        sample.raft_applied_index = st.raftAppliedIndex
        sample.raft_term = st.raftTerm
        sample.leader = st.leader
        sample.member_id = st.header.member_id
        if hash_revision:
            h = c.hash_kv(hash_revision, timeout=5.0)
            sample.hash = h.hash
            sample.hash_revision = hash_revision
            sample.compact_revision = h.compact_revision
    except Exception as exc:  # noqa: BLE001 - recorded, judged by the convergence check
        from harness.client.outcome import error_info

        sample.error = error_info(exc)
    sample.time = clock()
    return sample


def _bisect_hashes(endpoints: list[str], writer: HistoryWriter, clock: Clock, lo: int, hi: int) -> None:
    """Members' HashKV differ at ``hi``: find the first revision where they do, by
    bisection over HashKV at earlier revisions (down to the compact revision ``lo``).
    Every probe is recorded as a status sample, so the convergence check names the first
    diverging revision from the history alone."""
    clients = [EtcdClient(ep, timeout=5.0) for ep in endpoints]
    try:
        for _ in range(64):
            if hi - lo <= 1:
                return
            mid = (lo + hi) // 2
            seen: set[tuple[int, int]] = set()
            for ep, c in zip(endpoints, clients, strict=True):
                sample = StatusRecord(time=0, member=ep, hash_revision=mid)
                try:
                    h = c.hash_kv(mid, timeout=5.0)
                    sample.hash, sample.compact_revision = h.hash, h.compact_revision
                    seen.add((h.hash, h.compact_revision))
                except Exception as exc:  # noqa: BLE001 - e.g. compacted: stop bisecting there
                    from harness.client.outcome import error_info

                    sample.hash_revision = None
                    sample.error = error_info(exc)
                sample.time = clock()
                writer.write(sample)
                if sample.error is not None:
                    return
            if len(seen) > 1:
                hi = mid
            else:
                lo = mid
    finally:
        for c in clients:
            c.close()


def _conclude(
    out: Path, plan: Plan, opts: RunOptions, reproduce: str, interrupted: int | None, traffic: Traffic | None
) -> RunResult:
    hist_path = out / "history.jsonl"
    stats: dict[str, Any] = traffic.stats.snapshot() if traffic is not None else {}
    if not hist_path.exists():
        verdict = Verdict("unknown", "etcd", reason="no history was written")
        summary: dict[str, Any] = {
            "verdict": verdict.verdict,
            "reason": verdict.reason,
            "reproduce": reproduce,
        }
        _write_summary(out, summary)
        return RunResult(out, verdict, summary, reproduce, interrupted, [verdict.reason])
    hist = read_history(str(hist_path))
    t0 = time.monotonic()
    internal: str | None = None
    try:
        with interruptible():
            verdict = check(hist, timeout=opts.check_timeout)
    except KeyboardInterrupt as exc:
        interrupted = interrupted or signal_of(exc)
        verdict = Verdict(
            "unknown", "etcd", reason=f"interrupted by {signal.Signals(signal_of(exc)).name} while checking"
        )
    except Exception as exc:  # noqa: BLE001 - a checker crash is our bug: kept, reported, exit 4
        internal = f"{type(exc).__name__}: {exc}"
        (out / "internal-error.txt").write_text(traceback.format_exc())
        reason = f"internal error in the checker ({internal}); traceback in {out / 'internal-error.txt'}"
        verdict = Verdict("unknown", "etcd", reason=reason)
    check_seconds = time.monotonic() - t0
    explanation = _explain(hist, verdict)
    if verdict.verdict == "ok":
        untested = untested_reason(hist, plan, traffic, interrupted)
        if untested:
            verdict = dataclasses.replace(verdict, verdict="unknown", reason=untested)
    summary = _summary(
        hist, plan, verdict.verdict, verdict.anomaly_dicts(), stats, check_seconds, reproduce, interrupted
    )
    if verdict.reason:
        summary["reason"] = verdict.reason
    summary["known_bugs"] = verdict.known_bugs()
    summary["unexplained_anomalies"] = len(verdict.unexplained)
    with contextlib.suppress(Exception):
        from harness.report import write_report

        shown = verdict if internal is None else Verdict.unchecked(verdict.reason, "etcd")
        write_report(hist, out / "report.html", verdict=shown, reproduce=reproduce)
    _write_summary(out, summary)
    if verdict.verdict == "ok" and not interrupted:
        # Data dirs are kept for failures only; logs always.
        shutil.rmtree(out / "cluster" / "data", ignore_errors=True)
    if verdict.verdict != "ok" and verdict.reason and not explanation:
        explanation = [verdict.reason]
    return RunResult(out, verdict, summary, reproduce, interrupted, explanation, internal)


def _write_summary(out: Path, summary: dict[str, Any]) -> None:
    (out / "summary.json").write_bytes(msgspec.json.format(msgspec.json.encode(summary), indent=2) + b"\n")


#: Below this share of the operations a plan asks for, a run tested too little to pass.
MIN_SUCCESS_SHARE = 0.1
#: Requests a client gets answered per second at least, on any cluster that serves.
NOMINAL_CLIENT_QPS = 10.0
#: Traffic that ends before this share of the planned duration stopped early.
MIN_TRAFFIC_SHARE = 0.9


def planned_ops(plan: Plan) -> float:
    """About how many operations the plan asks for: its rate (or a nominal rate per
    client when unthrottled) over its duration."""
    rate = plan.qps if plan.qps else NOMINAL_CLIENT_QPS * len(plan.clients)
    return rate * plan.duration


def untested_reason(hist: Any, plan: Plan, traffic: Traffic | None, interrupted: int | None) -> str:
    """Why a run with no anomaly still tested too little to pass, or "".

    A cluster that answered nothing, or far less than planned, shows no anomaly because
    it was not exercised: passing it would be a false pass.
    """
    ops = hist.ops
    acked = sum(1 for o in ops if _acknowledged_write(o.input, o.status, o.output))
    if acked == 0:
        return "no write was acknowledged: the run tested nothing"
    if traffic is not None and traffic.error is not None:
        return f"traffic stopped early: {traffic.error}"
    if not interrupted and traffic is not None and traffic.ran_for < MIN_TRAFFIC_SHARE * plan.duration:
        return f"traffic stopped early: it ran {traffic.ran_for:.1f} s of {plan.duration:g} s"
    succeeded = sum(1 for o in ops if o.status == "ok" and o.client < WATCHER_CLIENT_BASE)
    planned = planned_ops(plan)
    if not interrupted and succeeded < MIN_SUCCESS_SHARE * planned:
        return (
            f"only {succeeded} operations succeeded of about {planned:.0f} planned: "
            "the cluster was hardly exercised"
        )
    return ""


def _explain(hist: Any, verdict: Verdict) -> list[str]:
    """The first violation in plain text, for a person without a browser."""
    if verdict.verdict != "illegal":
        return []
    try:
        from harness.report import explain, member_labels, time_unit

        return explain(verdict, hist.ops, unit=time_unit(hist), members=member_labels(hist))
    except Exception:  # noqa: BLE001 - the anomaly messages still say what happened
        return [a.message for a in verdict.anomalies[:5]]


def _acknowledged_write(inp: dict[str, Any], status: str, output: Any) -> bool:
    """An ``ok`` request that changed something: kv writes as the etcd model reads their
    responses (a txn that lost its compare and only read is not a write), plus lease
    grants and compactions."""
    if status != "ok" or not isinstance(output, dict) or "error" in output:
        return False
    if inp.get("kind") in ("lease_grant", "compact"):
        return True
    return writes_of(inp, output) is not False


def _summary(
    hist: Any,
    plan: Plan,
    verdict: str,
    anomalies: list[dict[str, Any]],
    stats: dict[str, Any],
    check_seconds: float,
    reproduce: str,
    interrupted: int | None,
) -> dict[str, Any]:
    from collections import Counter as Tally

    ops = hist.ops
    by_kind = Tally(o.input.get("kind", "?") for o in ops)
    by_status = Tally(o.status for o in ops)
    end = max((o.ret or o.call for o in ops), default=0)
    duration_s = end / 1e9 if end else 0.0
    writes_ok = sum(1 for o in ops if _acknowledged_write(o.input, o.status, o.output))
    headers = [r for o in ops if o.status == "ok" and (r := header_revision(o.output))]
    revisions = max(headers, default=1) - min(headers, default=1)
    faults = []
    starts = {f.id: f for f in hist.faults if f.phase == "start"}
    ends = {f.id: f for f in hist.faults if f.phase == "end"}
    for fid, f in sorted(starts.items()):
        e = ends.get(fid)
        faults.append(
            {
                "kind": f.kind,
                "targets": f.targets,
                "start_s": round(f.time / 1e9, 3),
                "end_s": round(e.time / 1e9, 3) if e else None,
                "error": f.error or (e.error if e else None),
            }
        )
    return {
        "verdict": verdict,
        "interrupted": signal.Signals(interrupted).name if interrupted else None,
        "scenario": plan.scenario,
        "seed": plan.seed,
        "etcd_versions": hist.header.etcd_versions,
        "backend": hist.header.cluster.get("backend"),
        "members": plan.members,
        "duration_s": round(duration_s, 3),
        "ops": len(ops),
        "ops_by_kind": dict(by_kind),
        "ops_by_status": dict(by_status),
        "qps": round(len(ops) / duration_s, 1) if duration_s else 0.0,
        "acked_writes_per_s": round(writes_ok / duration_s, 1) if duration_s else 0.0,
        "revisions_per_s": round(revisions / duration_s, 1) if duration_s else 0.0,
        "watch_messages": len(hist.watches),
        "errors": stats.get("errors", {}),
        "faults": faults,
        "anomalies": anomalies,
        "check_seconds": round(check_seconds, 3),
        "reproduce": reproduce,
        "python": sys.version.split()[0],
        "pid": os.getpid(),
    }
