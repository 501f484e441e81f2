"""Every guarantee of etcd the model covers, checked on one history, in order:

1. lost writes (:mod:`.lost_writes`), a quick pass that names the write;
2. linearizability, by the revision-guided replay (:mod:`.revisions`): first with watch
   events, progress notifications and serializable reads as constraints; when no order
   explains them together, with the events but not the notifications, then with the
   linearizable responses alone, so that the watch and stale-read checks can name what
   breaks;
3. on the order found: watches (:mod:`.watch`) and serializable reads (:mod:`.stale_reads`);
   and, order-free, keys that outlive their lease (:mod:`.lease_lifetime`);
4. convergence of the members (:mod:`.convergence`), a cluster version that only
   moves forward (:mod:`.cluster_version`), and on an ``--auth`` run answers that keep
   to the test user's permissions (:mod:`.permissions`);
5. each anomaly a known bug of the history's etcd versions explains is named
   (:mod:`.known_bugs`).

What the history showed is extracted once (:mod:`.observations`) and read by all.
Design notes: ``docs/etcd-model.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from models.anomaly import Anomaly
from models.etcd.cluster_version import check_cluster_versions
from models.etcd.convergence import check_convergence
from models.etcd.known_bugs import explain_known
from models.etcd.lease_lifetime import check_lease_lifetimes
from models.etcd.lost_writes import check_lost_writes
from models.etcd.observations import Observations
from models.etcd.permissions import check_permissions
from models.etcd.revisions import RevisionResult, check_revisions
from models.etcd.stale_reads import check_stale_reads
from models.etcd.state import ALL_KEYS
from models.etcd.synthetic import compaction_calls, fault_compactions, lease_expiries
from models.etcd.watch import Compaction, check_watches
from models.history import History, OpRecord
from models.operation import Operation
from models.pause import paused_gc
from models.verdict import Outcome, Verdict, Witness

#: A time after every history: what "quiescent after" says when nothing settled.
NEVER = 1 << 62


def check_history(history: History, timeout: float | None = None) -> Verdict:
    """Check an etcd history against every guarantee the model covers."""
    with paused_gc():
        started = time.monotonic()
        ops = history.operations()
        expiries = lease_expiries(ops)
        ops += expiries + fault_compactions(history.faults)
        obs = Observations.of(history.ops, history.watches)
        anomalies = check_lost_writes(history.ops, obs.sightings, leases_may_expire=bool(expiries))
        lin, strict_failure = _linearizable(ops, obs, timeout)
        anomalies += lin.anomalies
        anomalies += _on_the_order(history, ops, lin)
        anomalies += check_lease_lifetimes(ops, history.faults)
        anomalies += check_cluster_versions(history.header, history.statuses, history.faults)
        anomalies += check_permissions(history.header.cluster.get("auth"), history.faults, history.ops)
        last_return = max((op.ret or op.call for op in ops), default=0)
        anomalies += check_convergence(
            history.statuses,
            quiescent_after=last_return if history.finished else NEVER,
            empty_at=_empty_at(lin),
        )
        if strict_failure and not anomalies:
            anomalies += strict_failure
        anomalies = _label_known_bugs(anomalies, history)
        verdict: Outcome = "illegal" if anomalies else ("unknown" if lin.verdict == "unknown" else "ok")
        stats = dict(lin.stats)
        stats["ops"] = len(history.ops)
        stats["synthetic_ops"] = len(ops) - len(history.ops)
        stats["watch_messages"] = len(history.watches)
        return _verdict(verdict, anomalies, lin, stats, started)


def _linearizable(
    ops: Sequence[Operation], obs: Observations, timeout: float | None
) -> tuple[RevisionResult, list[Anomaly]]:
    """The replay with watch events as constraints; when it fails, the replay that
    explains the linearizable responses alone, and the strict failure to fall back on."""
    lin = check_revisions(ops, obs, strict=True, timeout=timeout)
    if lin.verdict != "illegal":
        return lin, []
    strict_failure = lin.anomalies
    if any(c.hi > max(c.events, default=0) for c in obs.coverage):
        lin = check_revisions(ops, obs.events_only(), strict=True, timeout=timeout)
        if lin.verdict == "ok":
            return lin, strict_failure
    lin = check_revisions(ops, obs, strict=False, timeout=timeout)
    if lin.verdict == "unknown":
        lin.verdict, lin.anomalies = "illegal", strict_failure
    return lin, strict_failure


def _on_the_order(history: History, ops: Sequence[Operation], lin: RevisionResult) -> list[Anomaly]:
    """Watch and stale-read checks on the order the replay found (without one, the
    watch checks that need no model)."""
    calls = compaction_calls(ops)
    if lin.verdict != "ok" or lin.store is None:
        return check_watches(history.watches, compaction_calls=calls)
    out = check_watches(
        history.watches,
        changes=lin.changes,
        store=lin.store,
        compactions=acknowledged_compactions(history.ops),
        max_revision=lin.max_revision,
        compaction_calls=calls,
    )
    unknown_calls = [op.call for op in ops if op.status == "unknown"]
    return out + check_stale_reads(ops, lin.store, lin.lo, lin.max_revision, unknown_calls)


def _empty_at(lin: RevisionResult) -> Callable[[int], bool] | None:
    """Whether no key is alive at a revision, by the order the replay found."""
    store = lin.store
    if lin.verdict != "ok" or store is None:
        return None
    return lambda r: r <= (lin.max_revision or 0) and not store.range("", ALL_KEYS, r)


def acknowledged_compactions(records: Sequence[OpRecord]) -> list[Compaction]:
    return [
        Compaction(
            int(rec.input["revision"]),
            rec.call,
            rec.ret,
            int((rec.output.get("header") or {}).get("revision") or 0),
            rec.member,
        )
        for rec in records
        if rec.status == "ok"
        and rec.ret is not None
        and rec.input.get("kind") == "compact"
        and isinstance(rec.output, dict)
        and not rec.output.get("error")
    ]


def _verdict(
    verdict: Outcome, anomalies: list[Anomaly], lin: RevisionResult, stats: dict[str, Any], started: float
) -> Verdict:
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
    explained = [a for a, b in zip(anomalies, bugs, strict=True) if b is not None]
    return [a for a, b in zip(anomalies, bugs, strict=True) if b is None] + explained


def check_operations(ops: list[Operation], timeout: float | None = None) -> Verdict:
    """Linearizability only, for histories without watches or member status."""
    with paused_gc():
        started = time.monotonic()
        ops = ops + lease_expiries(ops)
        lin = check_revisions(ops, timeout=timeout)
        return _verdict(lin.verdict, lin.anomalies, lin, dict(lin.stats), started)
