"""Figures about a history that the report header and a run's summary.json both show.

Pure functions over a History so the run pipeline can reuse them without rendering
anything. Imported histories (Jepsen, porcupine) carry event indices instead of
nanoseconds; every function that speaks about time says which unit it used, because a
"QPS" computed from event indices would be a made-up number.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models.etcd.requests import header_revision, writes_of
from models.history import History, OpRecord

NS_PER_S = 1_000_000_000
STATUSES = ("ok", "fail", "unknown")


@dataclass(frozen=True)
class FaultWindow:
    id: int
    kind: str
    targets: list[str]
    start: int
    end: int
    open: bool
    error: str | None = None
    detail: dict[str, Any] | None = None

    def label(self) -> str:
        return f"{self.kind} {','.join(self.targets)}".strip()


def time_unit(hist: History) -> str:
    """``ns`` for our own histories, ``event`` when times are positions in another tool's log."""
    return "event" if hist.header.source else "ns"


def op_kind(op: OpRecord) -> str:
    kind = op.input.get("kind") if isinstance(op.input, dict) else None
    return str(kind) if kind else "?"


def time_span(hist: History) -> tuple[int, int]:
    """First and last time mentioned by any record; (0, 0) for an empty history."""
    times: list[int] = []
    for op in hist.ops:
        times.append(op.call)
        if op.ret is not None:
            times.append(op.ret)
    times.extend(f.time for f in hist.faults)
    times.extend(w.time for w in hist.watches)
    times.extend(s.time for s in hist.statuses)
    times.extend(n.time for n in hist.notes)
    if not times:
        return 0, 0
    return min(times), max(times)


def op_counts(ops: Sequence[OpRecord]) -> dict[str, dict[str, int]]:
    """Counts by kind then status, with a ``total`` kind and a ``total`` status."""
    out: dict[str, dict[str, int]] = {}
    for op in ops:
        for kind in (op_kind(op), "total"):
            row = out.setdefault(kind, dict.fromkeys((*STATUSES, "total"), 0))
            row[op.status] += 1
            row["total"] += 1
    if "total" not in out:
        out["total"] = dict.fromkeys((*STATUSES, "total"), 0)
    total = out.pop("total")
    ordered = dict(sorted(out.items(), key=lambda kv: (-kv[1]["total"], kv[0])))
    ordered["total"] = total
    return ordered


def fault_windows(hist: History) -> list[FaultWindow]:
    """Start/end edges paired by id; a window never closed lasts to the end of the history."""
    _, last = time_span(hist)
    starts = {f.id: f for f in hist.faults if f.phase == "start"}
    ends = {f.id: f for f in hist.faults if f.phase == "end"}
    out = []
    for fid, s in starts.items():
        e = ends.get(fid)
        out.append(
            FaultWindow(
                id=fid,
                kind=s.kind,
                targets=list(s.targets),
                start=s.time,
                end=e.time if e is not None else max(last, s.time),
                open=e is None,
                error=e.error if e is not None else None,
                detail=dict(s.detail) or None,
            )
        )
    out.sort(key=lambda w: (w.start, w.id))
    return out


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (q in 0..100)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, int(round(q / 100 * (len(sorted_values) - 1)))))
    return float(sorted_values[rank])


def latencies(ops: Sequence[OpRecord]) -> list[int]:
    """Call-to-return times of definite answers; unknown outcomes have no meaningful latency."""
    return sorted(op.ret - op.call for op in ops if op.status != "unknown" and op.ret is not None)


def members(hist: History) -> list[str]:
    names: list[str] = []
    for m in hist.header.cluster.get("members") or []:
        if isinstance(m, dict):
            names.append(str(m.get("name") or m.get("client_url") or "?"))
        else:
            names.append(str(m))
    if not names:
        seen = {op.member for op in hist.ops if op.member} | {s.member for s in hist.statuses}
        names = sorted(seen)
    return names


def member_versions(hist: History) -> dict[str, list[str]]:
    """Per member, the builds it ran in order: its first, then each upgrade's."""
    out: dict[str, list[str]] = {}
    for m in hist.header.cluster.get("members") or []:
        if isinstance(m, dict) and m.get("name") and m.get("version"):
            out[str(m["name"])] = [str(m["version"])]
    for f in sorted(hist.faults, key=lambda f: f.time):
        name, to = f.detail.get("member"), f.detail.get("to")
        if f.kind == "upgrade" and f.phase == "end" and f.error is None and name in out and to:
            out[str(name)].append(str(to))
    return out


def member_labels(hist: History) -> dict[str, str]:
    """Client URL (what status samples and ops name) -> member name from the header."""
    out: dict[str, str] = {}
    for m in hist.header.cluster.get("members") or []:
        if isinstance(m, dict) and m.get("name"):
            for key in ("client_url", "name"):
                if m.get(key):
                    out[str(m[key])] = str(m["name"])
    return out


def summarize(hist: History) -> dict[str, Any]:
    """Everything the report header shows, as plain JSON-able data."""
    unit = time_unit(hist)
    start, end = time_span(hist)
    counts = op_counts(hist.ops)
    lat = latencies(hist.ops)
    duration = end - start
    out: dict[str, Any] = {
        "scenario": hist.header.scenario,
        "seed": hist.header.seed,
        "etcd_versions": list(hist.header.etcd_versions),
        "members": members(hist),
        "member_versions": member_versions(hist),
        "model": hist.header.model,
        "source": hist.header.source,
        "start_time": hist.header.start_time or None,
        "finished": hist.finished,
        "time_unit": unit,
        "start": start,
        "end": end,
        "ops": len(hist.ops),
        "counts": counts,
        "clients": len({op.client for op in hist.ops}),
        "watch_streams": len({w.watch for w in hist.watches}),
        "watch_messages": len(hist.watches),
        "status_samples": len(hist.statuses),
        "faults": [
            {"kind": w.kind, "targets": w.targets, "start": w.start, "end": w.end, "open": w.open}
            for w in fault_windows(hist)
        ],
    }
    if unit == "ns":
        seconds = duration / NS_PER_S
        out["duration_s"] = round(seconds, 3)
        out["qps"] = round(len(hist.ops) / seconds, 1) if seconds > 0 else None
        out["ok_qps"] = round(counts["total"]["ok"] / seconds, 1) if seconds > 0 else None
        out["latency_ms"] = {
            name: round(percentile(lat, q) / 1e6, 3)
            for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))
        }
    else:
        out["duration_events"] = duration
        out["duration_s"] = None
        out["qps"] = None
    return out


def acknowledged_write(inp: dict[str, Any], status: str, output: Any) -> bool:
    """An ``ok`` request that changed something: kv writes as the etcd model reads their
    responses (a txn that lost its compare and only read is not a write), plus lease
    grants and compactions."""
    if status != "ok" or not isinstance(output, dict) or "error" in output:
        return False
    if inp.get("kind") in ("lease_grant", "compact"):
        return True
    return writes_of(inp, output) is not False


def run_figures(hist: History) -> dict[str, Any]:
    """A run's figures, as its summary.json and the run's last line print them: duration,
    operations by kind and status, rates, and the fault windows in seconds."""
    ops = hist.ops
    end = max((o.ret or o.call for o in ops), default=0)
    duration_s = end / NS_PER_S if end else 0.0
    writes_ok = sum(1 for o in ops if acknowledged_write(o.input, o.status, o.output))
    headers = [r for o in ops if o.status == "ok" and (r := header_revision(o.output))]
    revisions = max(headers, default=1) - min(headers, default=1)

    def rate(n: int) -> float:
        return round(n / duration_s, 1) if duration_s else 0.0

    return {
        "duration_s": round(duration_s, 3),
        "ops": len(ops),
        "ops_by_kind": dict(Counter(o.input.get("kind", "?") for o in ops)),
        "ops_by_status": dict(Counter(o.status for o in ops)),
        "qps": rate(len(ops)),
        "acked_writes_per_s": rate(writes_ok),
        "revisions_per_s": rate(revisions),
        "watch_messages": len(hist.watches),
        "faults": _fault_edges(hist),
    }


def _fault_edges(hist: History) -> list[dict[str, Any]]:
    starts = {f.id: f for f in hist.faults if f.phase == "start"}
    ends = {f.id: f for f in hist.faults if f.phase == "end"}
    out = []
    for fid, f in sorted(starts.items()):
        e = ends.get(fid)
        out.append(
            {
                "kind": f.kind,
                "targets": f.targets,
                "start_s": round(f.time / NS_PER_S, 3),
                "end_s": round(e.time / NS_PER_S, 3) if e else None,
                "error": f.error or (e.error if e else None),
            }
        )
    return out
