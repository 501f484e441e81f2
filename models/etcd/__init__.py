"""The etcd model and its checkers (pure: no I/O).

:func:`check_history` is the entry point the CLI uses for ``--model etcd``. It runs, in
order: the lost-write pre-check (:mod:`.lost_writes`), the revision-guided
linearizability check (:mod:`.checker`), then the watch (:mod:`.watch`),
serializable-read (:mod:`.stale_reads`) and convergence (:mod:`.convergence`) checks on
what the replay established. Design notes: ``docs/etcd-model.md``.

Lease expiry: traffic is expected to use TTLs longer than the run, so leases never
expire. A lease whose TTL is shorter than the history is given a synthetic revoke with
unknown outcome, callable any time after its grant was called, so an expiry (keys
deleted at one new revision, later puts failing ``lease_not_found``) is accepted
whenever the history needs one, and never required.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from models.anomaly import Anomaly
from models.etcd.checker import LinResult, Observation, WatchCoverage, check_revisions, observations_from_ops
from models.etcd.convergence import check_convergence
from models.etcd.known_bugs import explain_known
from models.etcd.lost_writes import check_lost_writes
from models.etcd.model import EtcdModel
from models.etcd.stale_reads import check_stale_reads
from models.etcd.state import KV, kv_from_dict
from models.etcd.watch import Compaction, check_watches
from models.history import FaultRecord, History, WatchRecord
from models.operation import Operation
from models.verdict import Outcome, Verdict, Witness

__all__ = ["EtcdModel", "check_history", "check_operations"]

NS = 1_000_000_000


def lease_expiries(ops: list[Operation]) -> list[Operation]:
    """Synthetic unknown revokes for leases whose TTL may run out within the history."""
    if not ops:
        return []
    end = max(max(op.call, op.ret or 0) for op in ops)
    out: list[Operation] = []
    for op in ops:
        if op.input.get("kind") != "lease_grant" or op.status == "fail":
            continue
        ttl = op.input.get("ttl")
        if ttl is None or int(ttl) * NS < end - op.call:
            out.append(
                Operation(
                    id=-1 - len(out),
                    client=-1,
                    call=op.call,
                    ret=None,
                    input={"kind": "lease_revoke", "id": op.input["id"], "expiry": True},
                    status="unknown",
                )
            )
    return out


def fault_compactions(faults: list[FaultRecord]) -> list[Operation]:
    """The compactions a ``compact`` fault made, as operations of unknown outcome.

    The fault compacts through the API without recording an operation; its window's
    start is written with the time before the request went out, so the compaction may
    have taken effect at any time after it (or never, if it failed).
    """
    out: list[Operation] = []
    for f in faults:
        rev = f.detail.get("revision") if f.phase == "start" and f.kind == "compact" else None
        if isinstance(rev, int) and not isinstance(rev, bool) and rev > 0:
            out.append(
                Operation(
                    id=-1_000_000 - len(out),
                    client=-2,
                    call=f.time,
                    ret=None,
                    input={"kind": "compact", "revision": rev, "physical": True},
                    status="unknown",
                )
            )
    return out


def watch_coverage(watches: list[WatchRecord]) -> list[WatchCoverage]:
    """Per stream, the revisions it must have seen completely (start to last event)."""
    streams: dict[int, list[WatchRecord]] = {}
    for rec in watches:
        streams.setdefault(rec.watch, []).append(rec)
    out = []
    for recs in streams.values():
        req = next((r.request for r in recs if r.event == "request" and r.request), None)
        if req is None:
            continue
        created = next((r.header for r in recs if r.event == "created" and r.header), None)
        start = int(req.get("start_revision") or 0)
        if not start and created:
            start = int(created.get("revision") or 0) + 1
        events: dict[int, dict[str, KV | None]] = {}
        progress = 0
        for rec in recs:
            if rec.event in ("canceled", "error"):
                break
            if rec.event == "progress" and rec.header:
                progress = max(progress, int(rec.header.get("revision") or 0))
            if rec.event != "events":
                continue
            for ev in rec.events:
                kv = kv_from_dict(ev.get("kv"))
                if kv is not None:
                    events.setdefault(kv.mod_revision, {})[kv.key] = (
                        None if ev.get("type") == "DELETE" else kv
                    )
        hi = max([progress, *events])
        if start and hi >= start:
            out.append(WatchCoverage(str(req.get("key", "")), req.get("range_end"), start, hi, events))
    return out


def check_history(history: History, timeout: float | None = None) -> Verdict:
    """Check an etcd history against every guarantee the model covers.

    The cyclic garbage collector is paused meanwhile: the check allocates hundreds of
    thousands of small tuples and no cycles, and with a 60k-operation history alive every
    full collection rescans it (this alone tripled the check time).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _check_history(history, timeout)
    finally:
        if was_enabled:
            gc.enable()


def _check_history(history: History, timeout: float | None) -> Verdict:
    started = time.monotonic()
    ops = history.operations()
    expiries = lease_expiries(ops)
    ops += expiries + fault_compactions(history.faults)
    anomalies = check_lost_writes(history.ops, history.watches, leases_may_expire=bool(expiries))

    observations = observations_from_ops(ops, exact=True)
    extra = []
    for rec in history.watches:
        if rec.event == "events":
            for ev in rec.events:
                kv = kv_from_dict(ev.get("kv"))
                if kv is None or kv.mod_revision < 2:
                    continue
                extra.append(kv.mod_revision)
                observations.append(
                    Observation(
                        kv.mod_revision, kv.key, kv if ev.get("type") != "DELETE" else None, False, False
                    )
                )
                prev = kv_from_dict(ev.get("prev_kv"))
                if prev is not None and prev.mod_revision > 1:
                    observations.append(Observation(prev.mod_revision, prev.key, prev, False, False))
    coverage = watch_coverage(history.watches)
    lin = check_revisions(
        ops, observations=observations, extra_revisions=extra, coverage=coverage, strict=True, timeout=timeout
    )
    strict_failure: list[Anomaly] = []
    if lin.verdict == "illegal":
        # No order explains reads and watches together. Find one that explains the
        # linearizable responses alone, so the watch/stale-read checks can name what
        # breaks; if there is none, this is a plain linearizability violation.
        strict_failure = lin.anomalies
        lin = check_revisions(
            ops,
            observations=observations,
            extra_revisions=extra,
            coverage=coverage,
            strict=False,
            timeout=timeout,
        )
        if lin.verdict == "unknown":
            lin.verdict, lin.anomalies = "illegal", strict_failure
    anomalies += lin.anomalies

    compactions = [
        Compaction(
            int(rec.input["revision"]),
            rec.call,
            rec.ret,
            int((rec.output.get("header") or {}).get("revision") or 0),
            rec.member,
        )
        for rec in history.ops
        if rec.status == "ok"
        and rec.ret is not None
        and rec.input.get("kind") == "compact"
        and isinstance(rec.output, dict)
        and not rec.output.get("error")
    ]
    # Every compaction that may have taken effect: acknowledged or of unknown outcome.
    compaction_calls = [
        (int(op.input["revision"]), op.call)
        for op in ops
        if op.input.get("kind") == "compact"
        and op.status != "fail"
        and not (isinstance(op.output, dict) and op.output.get("error"))
    ]
    if lin.verdict == "ok" and lin.store is not None:
        anomalies += check_watches(
            history.watches,
            changes=lin.changes,
            store=lin.store,
            compactions=compactions,
            max_revision=lin.max_revision,
            compaction_calls=compaction_calls,
        )
        unknown_calls = [op.call for op in ops if op.status == "unknown"]
        anomalies += check_stale_reads(ops, lin.store, lin.lo, lin.max_revision, unknown_calls)
    else:
        anomalies += check_watches(history.watches, compaction_calls=compaction_calls)

    last_return = max((op.ret or op.call for op in ops), default=0)
    quiescent = last_return if history.finished else 1 << 62
    anomalies += check_convergence(history.statuses, quiescent_after=quiescent)

    if strict_failure and not anomalies:
        anomalies += strict_failure
    anomalies = _label_known_bugs(anomalies, history)
    verdict: Outcome = "illegal" if anomalies else ("unknown" if lin.verdict == "unknown" else "ok")
    stats = dict(lin.stats)
    stats["ops"] = len(history.ops)
    stats["synthetic_ops"] = len(ops) - len(history.ops)
    stats["watch_messages"] = len(history.watches)
    return _verdict(verdict, anomalies, lin, stats, started)


def _verdict(verdict: Outcome, anomalies: list[Anomaly], lin: LinResult, stats: dict[str, Any], started: float) -> Verdict:
    writers = {r: w for r, w in enumerate(lin.writers) if w is not None}
    return Verdict(
        verdict,
        "etcd",
        anomalies,
        reason=str(stats.get("reason", "")) if verdict == "unknown" else "",
        stats=stats,
        witness=Witness(writers=writers),
        elapsed=time.monotonic() - started,
    )


def _label_known_bugs(anomalies: list[Anomaly], history: History) -> list[Anomaly]:
    """Name the known etcd bug behind each anomaly it explains (``details["known_bug"]``),
    unexplained anomalies first."""
    bugs = explain_known(anomalies, history)
    for a, bug in zip(anomalies, bugs, strict=True):
        if bug is not None:
            a.details["known_bug"] = {
                "id": bug.id,
                "title": bug.title,
                "fixed_in": bug.fixed_in,
                "url": bug.url,
            }
    return [a for a, b in zip(anomalies, bugs, strict=True) if b is None] + [
        a for a, b in zip(anomalies, bugs, strict=True) if b is not None
    ]


def check_operations(ops: list[Operation], timeout: float | None = None) -> Verdict:
    """Linearizability only, for histories without watches or member status."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _check_operations(ops, timeout)
    finally:
        if was_enabled:
            gc.enable()


def _check_operations(ops: list[Operation], timeout: float | None) -> Verdict:
    started = time.monotonic()
    ops = ops + lease_expiries(ops)
    lin = check_revisions(ops, observations=observations_from_ops(ops, exact=True), timeout=timeout)
    return _verdict(lin.verdict, lin.anomalies, lin, dict(lin.stats), started)
