"""The end of a run: check its history, refuse to pass a run that tested too little,
write the summary and the report.

A checker crash is the harness's bug: the run ends ``unknown`` with the traceback kept
beside the history and an exit code of its own. A run stopped by a signal is checked on
what was recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from harness.history.jsonl import read_history
from harness.report import explain, member_labels, time_unit, write_report
from harness.report.summary import acknowledged_write, member_versions, run_figures
from harness.signals import interruptible, signal_of
from harness.traffic.plan import Plan
from harness.traffic.watchers import WATCHER_CLIENT_BASE
from harness.traffic.workers import Workers
from harness.traffic.workload import Traffic
from models.check import check
from models.history import History
from models.verdict import Verdict


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


def conclude(
    out: Path,
    plan: Plan,
    check_timeout: float,
    reproduce: str,
    interrupted: int | None,
    traffic: Traffic | Workers | None,
) -> RunResult:
    hist_path = out / "history.jsonl"
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
    started = time.monotonic()
    verdict, internal, stopped = _checked(hist, out, check_timeout)
    interrupted = interrupted or stopped
    check_seconds = time.monotonic() - started
    explanation = _explain(hist, verdict)
    if verdict.verdict == "ok":
        untested = untested_reason(hist, plan, traffic, interrupted)
        if untested:
            verdict = dataclasses.replace(verdict, verdict="unknown", reason=untested)
    stats = traffic.stats.snapshot() if traffic is not None else {}
    summary = _summary(hist, plan, verdict, stats, check_seconds, reproduce, interrupted)
    with contextlib.suppress(Exception):
        shown = verdict if internal is None else Verdict.unchecked(verdict.reason, "etcd")
        write_report(hist, out / "report.html", verdict=shown, reproduce=reproduce)
    _write_summary(out, summary)
    if verdict.verdict == "ok" and not interrupted:
        # Data dirs are kept for failures only; logs always.
        shutil.rmtree(out / "cluster" / "data", ignore_errors=True)
    if verdict.verdict != "ok" and verdict.reason and not explanation:
        explanation = [verdict.reason]
    return RunResult(out, verdict, summary, reproduce, interrupted, explanation, internal)


def _checked(hist: History, out: Path, timeout: float) -> tuple[Verdict, str | None, int | None]:
    """(verdict, internal error, signal that stopped the check)."""
    try:
        with interruptible():
            return check(hist, timeout=timeout), None, None
    except KeyboardInterrupt as exc:
        reason = f"interrupted by {signal.Signals(signal_of(exc)).name} while checking"
        return Verdict("unknown", "etcd", reason=reason), None, signal_of(exc)
    except Exception as exc:  # noqa: BLE001 - a checker crash is our bug: kept, reported, exit 4
        internal = f"{type(exc).__name__}: {exc}"
        (out / "internal-error.txt").write_text(traceback.format_exc())
        reason = f"internal error in the checker ({internal}); traceback in {out / 'internal-error.txt'}"
        return Verdict("unknown", "etcd", reason=reason), internal, None


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


def untested_reason(
    hist: History, plan: Plan, traffic: Traffic | Workers | None, interrupted: int | None
) -> str:
    """Why a run with no anomaly still tested too little to pass, or "".

    A cluster that answered nothing, or far less than planned, shows no anomaly because
    it was not exercised: passing it would be a false pass.
    """
    ops = hist.ops
    acked = sum(1 for o in ops if acknowledged_write(o.input, o.status, o.output))
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


def _explain(hist: History, verdict: Verdict) -> list[str]:
    """The first violation in plain text, for a person without a browser."""
    if verdict.verdict != "illegal":
        return []
    try:
        return explain(verdict, hist.ops, unit=time_unit(hist), members=member_labels(hist))
    except Exception:  # noqa: BLE001 - the anomaly messages still say what happened
        return [a.message for a in verdict.anomalies[:5]]


def _summary(
    hist: History,
    plan: Plan,
    verdict: Verdict,
    stats: dict[str, Any],
    check_seconds: float,
    reproduce: str,
    interrupted: int | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "verdict": verdict.verdict,
        "interrupted": signal.Signals(interrupted).name if interrupted else None,
        "scenario": plan.scenario,
        "seed": plan.seed,
        "etcd_versions": hist.header.etcd_versions,
        "member_versions": member_versions(hist),
        "backend": hist.header.cluster.get("backend"),
        "members": plan.members,
        **run_figures(hist),
        "errors": stats.get("errors", {}),
        "anomalies": verdict.anomaly_dicts(),
        "check_seconds": round(check_seconds, 3),
        "reproduce": reproduce,
        "python": sys.version.split()[0],
        "pid": os.getpid(),
    }
    if plan.drawn:
        out["configuration"] = plan.drawn
    if verdict.reason:
        out["reason"] = verdict.reason
    out["known_bugs"] = verdict.known_bugs()
    out["unexplained_anomalies"] = len(verdict.unexplained)
    return out
