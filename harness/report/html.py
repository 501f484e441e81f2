"""Assembles report.html: one self-contained file (no network, no CDN) per history.

The timeline is drawn by vanilla JS on a canvas from columnar arrays embedded as JSON,
so a 60k-operation history stays a few MB and never creates a DOM node per operation.
Everything textual (header, explanation, tables) is rendered here, in Python, so the
page is readable even if its script fails, and tests can assert on it without a browser.
"""

from __future__ import annotations

import html
import json
import shlex
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from harness import __version__
from harness.report.evidence import related_writes, violating_ops, witness
from harness.report.explain import Describe, describer, safe_describe
from harness.report.failure import Page, explanation_section, watch_desc
from harness.report.plots import all_plots
from harness.report.summary import fault_windows, member_labels, op_kind, summarize, time_unit
from models.history import History
from models.verdict import Verdict

STATUS_CODES = {"ok": 0, "fail": 1, "unknown": 2}
WATCH_EVENTS = ["request", "created", "events", "progress", "canceled", "error", "settled"]


def _asset(name: str) -> str:
    return resources.files("harness.report").joinpath(name).read_text(encoding="utf-8")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _json_for_script(data: Any) -> str:
    """JSON safe inside <script>: no "</" can end the element early."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def timeline_data(hist: History, verdict: Verdict, describe: Describe) -> dict[str, Any]:
    """Columnar arrays the canvas timeline reads; calls and ids are delta-encoded.

    Times of our histories are stored in microseconds (enough at any zoom a person
    uses, and a third of the digits of nanoseconds).
    """
    unit = time_unit(hist)
    q = 1000 if unit == "ns" else 1
    ops = sorted(hist.ops, key=lambda o: (o.call, o.id))
    clients = sorted({o.client for o in ops})
    watchers = sorted({w.client for w in hist.watches})
    lanes = [{"name": f"client {c}", "type": "client"} for c in clients]
    lanes += [{"name": f"watch c{c}", "type": "watch"} for c in watchers]
    client_lane = {c: i for i, c in enumerate(clients)}
    watch_lane = {c: len(clients) + i for i, c in enumerate(watchers)}
    kinds: dict[str, int] = {}
    member_names: dict[str, int] = {}
    labels = member_labels(hist)
    ids, calls, durs, lane, st, kind, mem, desc = [], [], [], [], [], [], [], []
    prev_id = prev_call = 0
    for o in ops:
        c = o.call // q
        ids.append(o.id - prev_id)
        calls.append(c - prev_call)
        prev_id, prev_call = o.id, c
        durs.append(-1 if o.ret is None else o.ret // q - c)
        lane.append(client_lane[o.client])
        st.append(STATUS_CODES.get(o.status, 2))
        kind.append(kinds.setdefault(op_kind(o), len(kinds)))
        mem.append(
            member_names.setdefault(labels.get(o.member, o.member), len(member_names)) if o.member else -1
        )
        desc.append(safe_describe(describe, o))
    watches: dict[str, list[Any]] = {"t": [], "lane": [], "ev": [], "desc": []}
    for w in sorted(hist.watches, key=lambda w: w.time):
        watches["t"].append(w.time // q)
        watches["lane"].append(watch_lane[w.client])
        watches["ev"].append(WATCH_EVENTS.index(w.event) if w.event in WATCH_EVENTS else 0)
        watches["desc"].append(watch_desc(w, labels))
    s = summarize(hist)
    start = s["start"] // q
    return {
        "unit": unit,
        "q": q,
        "start": start,
        "end": max(s["end"] // q, start + 1),
        "lanes": lanes,
        "kinds": list(kinds),
        "members": list(member_names),
        "ops": {
            "id": ids,
            "call": calls,
            "dur": durs,
            "lane": lane,
            "st": st,
            "kind": kind,
            "mem": mem if member_names else [],
            "desc": desc,
        },
        "watch": watches,
        "watchEvents": WATCH_EVENTS,
        "faults": [
            {
                "label": w.label(),
                "start": w.start // q,
                "end": w.end // q,
                "open": w.open,
                "error": w.error,
                "detail": json.dumps(w.detail, default=str) if w.detail else "",
            }
            for w in fault_windows(hist)
        ],
        "notes": [{"t": n.time // q, "text": n.text} for n in hist.notes],
        "marks": {
            "violating": violating_ops(verdict),
            "related": sorted({w for a in verdict.anomalies for _, w in related_writes(verdict, a)}),
            "stuck": witness(verdict).stuck,
            "prefix": witness(verdict).prefix,
        },
    }


def reproduce_command(hist: History, verdict: Verdict, fmt: str | None = None) -> str:
    """The command that reproduces this history; a run's pipeline passes its own.

    A run directory (plan.json beside the history) is replayed exactly; otherwise the
    scenario and seed re-run the plan, and an imported history can only be re-checked.
    """
    if hist.path and not hist.header.source:
        run_dir = Path(hist.path).resolve().parent
        if (run_dir / "plan.json").exists():
            return f"etcd-harness reproduce {shlex.quote(str(run_dir))}"
        if hist.header.scenario and hist.header.seed is not None:
            return f"etcd-harness run {shlex.quote(hist.header.scenario)} --seed {hist.header.seed}"
    path = hist.path or hist.header.source or "HISTORY"
    parts = ["etcd-harness", "check", shlex.quote(path)]
    if fmt and fmt != "auto":
        parts += ["--format", fmt]
    if verdict.model and verdict.model != hist.model:
        parts += ["--model", verdict.model]
    return " ".join(parts)


def render_report(
    hist: History,
    verdict: Verdict | None = None,
    *,
    title: str | None = None,
    reproduce: str | None = None,
    describe: Describe | None = None,
    plots: bool = True,
) -> str:
    """The whole page as a string; ``verdict`` None: the history was not checked."""
    if verdict is None:
        verdict = Verdict.unchecked("no check was run", hist.model or "etcd")
    describe = describe or describer(verdict.model or hist.model)
    summary = summarize(hist)
    by_id = {o.id: o for o in hist.ops}
    unit = summary["time_unit"]
    name = title or _title(hist)
    data = timeline_data(hist, verdict, describe)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>etcd-harness report: {_e(name)}</title>",
        f"<style>{_asset('report.css')}</style></head><body>",
        '<div id="report-status" data-status="loading" hidden></div>',
        '<div id="js-error" class="banner error" hidden></div>',
        _header(hist, verdict, summary, name, reproduce or reproduce_command(hist, verdict)),
        _timeline_section(unit, verdict),
        explanation_section(Page(hist, verdict, by_id, describe, unit, member_labels(hist))),
    ]
    if plots:
        parts.append(_plots_section(hist))
    parts += [
        _counts_section(summary),
        f"<footer>etcd-harness {_e(__version__)}, generated {_e(time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()))}</footer>",
        f'<script id="report-data" type="application/json">{_json_for_script(data)}</script>',
        f"<script>{_asset('timeline.js')}</script>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _title(hist: History) -> str:
    path = Path(hist.path or hist.header.source or "history")
    if path.name == "history.jsonl" and path.parent.name:
        return f"{path.parent.name} ({hist.header.scenario or 'run'}, seed {hist.header.seed})"
    return path.name


def write_report(hist: History, path: str | Path, verdict: Verdict | None = None, **kw: Any) -> Path:
    """Render and write; returns the path (the run pipeline calls this for every run)."""
    out = Path(path)
    out.write_text(render_report(hist, verdict, **kw), encoding="utf-8")
    return out


def _verdict_badge(v: Verdict, element_id: str = "") -> str:
    cls = {"ok": "ok", "illegal": "bad", "unknown": "warn"}.get(v.verdict, "none")
    ident = f' id="{element_id}"' if element_id else ""
    return f'<span{ident} class="badge {cls}" data-verdict="{_e(v.verdict)}">{_e(v.verdict)}</span>'


def _members_with_builds(s: dict[str, Any]) -> str:
    """``m0``, or ``m0 (3.4.23 -> 3.5.1)`` where members ran different builds."""
    builds: dict[str, list[str]] = s.get("member_versions") or {}
    if len({v for vs in builds.values() for v in vs}) < 2:
        return ", ".join(s["members"])
    return ", ".join(f"{m} ({' -> '.join(builds[m])})" if m in builds else m for m in s["members"])


def _header(hist: History, v: Verdict, s: dict[str, Any], name: str, reproduce: str) -> str:
    rows: list[tuple[str, str]] = []
    rows.append(("scenario", _e(s["scenario"] or "-")))
    rows.append(("seed", _e("-" if s["seed"] is None else s["seed"])))
    if s["source"]:
        rows.append(("imported from", _e(s["source"])))
    rows.append(("etcd version(s)", _e(", ".join(s["etcd_versions"]) or "-")))
    rows.append(("members", _e(_members_with_builds(s)) or "-"))
    if s["start_time"]:
        rows.append(("started", _e(s["start_time"])))
    if s["time_unit"] == "ns":
        rows.append(("duration", _e(f"{s['duration_s']:.3f} s" + ("" if s["finished"] else " (cut short)"))))
        qps = "-" if s["qps"] is None else f"{s['qps']:.1f} ops/s ({s['ok_qps']:.1f} ok/s)"
        rows.append(("throughput", _e(qps)))
        lat = s["latency_ms"]
        rows.append(("latency", _e(f"p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms")))
    else:
        rows.append(("duration", _e(f"{s['duration_events']} events (times are event indices, not time)")))
        rows.append(("throughput", "n/a for event-indexed histories"))
    t = s["counts"]["total"]
    rows.append(
        (
            "operations",
            _e(
                f"{t['total']} ({t['ok']} ok, {t['fail']} fail, {t['unknown']} unknown) by {s['clients']} clients"
            )
            + " &middot; "
            + _e(", ".join(f"{k} {c['total']}" for k, c in s["counts"].items() if k != "total")),
        )
    )
    if s["watch_messages"]:
        rows.append(("watch", _e(f"{s['watch_streams']} streams, {s['watch_messages']} messages")))
    if s["faults"]:
        kinds: dict[str, int] = {}
        for f in s["faults"]:
            kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
        rows.append(("faults", _e(", ".join(f"{k} x{n}" for k, n in kinds.items()))))
    check = _verdict_badge(v) + f" model {_e(v.model or '-')}"
    if v.elapsed:
        check += _e(f", checked in {v.elapsed:.2f} s")
    if v.reason:
        check += f' <span class="muted">({_e(v.reason)})</span>'
    rows.append(("verdict", check))
    if v.verdict == "illegal":
        kinds_a: dict[str, int] = {}
        for a in v.anomalies:
            kinds_a[a.kind] = kinds_a.get(a.kind, 0) + 1
        summary = ", ".join(f"{k} x{n}" for k, n in kinds_a.items()) or "violation"
        rows.append(
            (
                "anomalies",
                _e(summary) + ' &middot; <a href="#explanation" id="jump-explanation">explanation &darr;</a>',
            )
        )
    table = "".join(f"<tr><th>{k}</th><td>{val}</td></tr>" for k, val in rows)
    return (
        f'<header><h1>{_e(name)} {_verdict_badge(v, "verdict")}</h1><table class="kv">{table}</table>'
        f'<div class="repro"><span>reproduce:</span> <code id="reproduce">{_e(reproduce)}</code></div></header>'
    )


def _timeline_section(unit: str, v: Verdict) -> str:
    axis = (
        "time since start"
        if unit == "ns"
        else "event index (imported history: times are positions in the log)"
    )
    violation_btn = (
        '<button id="tl-violation" class="danger">Zoom to violation</button>' if violating_ops(v) else ""
    )
    prefix_box = (
        '<label><input type="checkbox" id="tl-prefix"> highlight longest linearizable prefix <span class="muted">(green: in it, grey: not)</span></label>'
        if witness(v).prefix
        else ""
    )
    return f"""<section id="timeline-section"><h2>Timeline</h2>
<div class="controls"><button id="tl-reset">Reset zoom</button><button id="tl-in">+</button><button id="tl-out">&minus;</button>{violation_btn}{prefix_box}
<span class="legend"><i class="sw ok"></i>ok <i class="sw fail"></i>fail <i class="sw unknown"></i>unknown <i class="sw viol"></i>violation <i class="sw fault"></i>fault window</span>
<span class="muted">wheel: zoom &middot; drag: pan &middot; click: details &middot; double-click: reset &middot; x axis: {_e(axis)}</span></div>
<div id="timeline-wrap"><canvas id="timeline"></canvas><div id="tooltip" hidden></div></div>
<div id="selection" class="muted">Click an operation for its details.</div></section>"""


def _plots_section(hist: History) -> str:
    try:
        figures = all_plots(hist)
    except Exception as exc:  # plots are a bonus; a plotting failure must not lose the report
        return (
            f'<section id="plots"><h2>Plots</h2><p class="banner none">plots failed: {_e(exc)}</p></section>'
        )
    if not figures:
        return '<section id="plots"><h2>Plots</h2><p class="muted">No data to plot.</p></section>'
    inner = "".join(f'<figure class="plot" data-plot="{_e(t)}">{svg}</figure>' for t, svg in figures)
    return f'<section id="plots"><h2>Plots</h2>{inner}</section>'


def _counts_section(s: dict[str, Any]) -> str:
    rows = ["<tr><th>kind</th><th>ok</th><th>fail</th><th>unknown</th><th>total</th></tr>"]
    for kind, c in s["counts"].items():
        cls = ' class="total"' if kind == "total" else ""
        rows.append(
            f"<tr{cls}><td>{_e(kind)}</td><td>{c['ok']}</td><td>{c['fail']}</td><td>{c['unknown']}</td><td>{c['total']}</td></tr>"
        )
    faults = ""
    if s["faults"]:
        div = 1e9 if s["time_unit"] == "ns" else 1
        suffix = " s" if s["time_unit"] == "ns" else ""
        frows = "".join(
            f"<tr><td>{_e(f['kind'])}</td><td>{_e(', '.join(f['targets']))}</td>"
            f"<td>{f['start'] / div:.3f}{suffix}</td><td>{f['end'] / div:.3f}{suffix}{' (never healed)' if f['open'] else ''}</td></tr>"
            for f in s["faults"]
        )
        faults = f'<h3>Fault windows</h3><table class="grid"><tr><th>kind</th><th>targets</th><th>start</th><th>end</th></tr>{frows}</table>'
    return f'<section id="counts"><h2>Operations</h2><table class="grid">{"".join(rows)}</table>{faults}</section>'


__all__: Sequence[str] = ["render_report", "reproduce_command", "timeline_data", "write_report"]
