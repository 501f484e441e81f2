"""The failure explanation section of report.html, rendered in Python.

Server-side so that the explanation reads the same with the script disabled and so
tests assert on it without a browser; the timeline script only adds "show in timeline".
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from harness.report.evidence import (
    expected_texts,
    related_writes,
    revisions_in,
    violating_ops,
    witness,
    witness_anomaly,
)
from harness.report.explain import Describe, explain, fmt_interval, overlapping, safe_describe, value_text
from models.anomaly import Anomaly
from models.history import History, OpRecord
from models.verdict import NOT_CHECKED, Verdict

MAX_ANOMALY_CARDS = 50
MAX_ROWS = 20


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def watch_desc(w: Any, labels: dict[str, str] | None = None) -> str:
    rev = (w.header or {}).get("revision")
    at = f" @rev {rev}" if rev is not None else ""
    member = (labels or {}).get(w.member, w.member) if w.member else None
    who = f"watch {w.watch}" + (f" on {member}" if member else "")
    if w.event == "events":
        evs = ", ".join(
            f"{e.get('type')} {(e.get('kv') or {}).get('key')}@{(e.get('kv') or {}).get('mod_revision')}"
            for e in w.events[:5]
        )
        more = f" (+{len(w.events) - 5})" if len(w.events) > 5 else ""
        return f"{who}: {len(w.events)} events{at}: {evs}{more}"
    if w.event == "request":
        return f"{who}: request {json.dumps(w.request, default=str)}"
    if w.event == "canceled":
        return f"{who}: canceled{at} compact_revision={w.compact_revision} {w.cancel_reason}"
    if w.event == "error":
        err = f"{w.error.code} {w.error.message}" if w.error else ""
        return f"{who}: stream error {err}"
    return f"{who}: {w.event}{at}"


@dataclass
class Page:
    """What every section of the explanation needs, passed as one."""

    hist: History
    v: Verdict
    by_id: dict[int, OpRecord]
    describe: Describe
    unit: str
    labels: dict[str, str]

    def member(self, name: str | None) -> str:
        return self.labels.get(name, name) if name else ""


def _op_row(p: Page, op: OpRecord | None, op_id: int, cls: str = "", pos: str = "") -> str:
    if op is None:
        return f'<tr class="{cls}"><td>{_e(pos)}</td><td>{op_id}</td><td colspan="5">not in the history</td></tr>'
    return (
        f'<tr class="{cls}" data-op="{op.id}"><td>{_e(pos)}</td><td><a href="#timeline-section" class="oplink" '
        f'data-op="{op.id}">{op.id}</a></td><td>{op.client}</td><td>{_e(p.member(op.member))}</td>'
        f'<td class="st-{_e(op.status)}">{_e(op.status)}</td><td>{_e(fmt_interval(op, p.unit))}</td>'
        f"<td><code>{_e(safe_describe(p.describe, op))}</code></td></tr>"
    )


_OP_HEAD = "<tr><th></th><th>op</th><th>client</th><th>member</th><th>status</th><th>call..return</th><th>operation</th></tr>"


def explanation_section(p: Page) -> str:
    hist, v, describe, unit = p.hist, p.v, p.describe, p.unit
    ops = violating_ops(v)
    attrs = f' data-violation-op="{ops[0]}" data-violation-ops="{",".join(map(str, ops))}"' if ops else ""
    head = f'<section id="explanation"{attrs}><h2>Failure explanation</h2>'
    if v.verdict == "ok":
        return (
            head
            + '<p class="banner good">No violation: the history is consistent with the model.</p></section>'
        )
    if v.verdict == NOT_CHECKED:
        return head + f'<p class="banner none">Not checked: {_e(v.reason)}</p></section>'
    if v.verdict == "unknown":
        return (
            head
            + f'<p class="banner warnb">Unknown: {_e(v.reason or "the check ran out of budget")}</p></section>'
        )
    body: list[str] = []
    if witness(v).stuck:
        body.append(_witness_block(p))
    others = [a for a in v.anomalies if not witness_anomaly(v, a)]
    for a in others[:MAX_ANOMALY_CARDS]:
        body.append(_anomaly_card(p, a))
    if len(others) > MAX_ANOMALY_CARDS:
        body.append(f"<p>and {len(others) - MAX_ANOMALY_CARDS} more anomalies (see check --json)</p>")
    text = "\n".join(explain(v, list(hist.ops), describe=describe, unit=unit, members=p.labels))
    body.append(
        f"<details><summary>As printed by etcd-harness check</summary><pre>{_e(text)}</pre></details>"
    )
    return head + "\n".join(body) + "</section>"


def _witness_block(p: Page) -> str:
    v, by_id, describe = p.v, p.by_id, p.describe
    w = witness(v)
    first = w.stuck[0]
    op = by_id.get(first)
    observed = safe_describe(describe, op) if op is not None else "?"
    expected = expected_texts(v, by_id.values()).get(first, f"a result consistent with state {w.state_text}")
    part = f" (partition {w.partition})" if w.partition is not None else ""
    cmp = (
        '<div class="compare">'
        f'<div class="box state"><h4>Model state after the prefix</h4><code>{_e(w.state_text)}</code></div>'
        f'<div class="box expected"><h4>Expected</h4><code>{_e(expected)}</code></div>'
        f'<div class="box observed"><h4>Op {first} observed</h4><code>{_e(observed)}</code></div></div>'
    )
    rows = [_OP_HEAD]
    tail = w.prefix[-8:]
    start = len(w.prefix) - len(tail)
    if start > 0:
        rows.append(
            f'<tr class="elided"><td colspan="7">&hellip; {start} earlier operations linearized</td></tr>'
        )
    for k, i in enumerate(tail):
        rows.append(_op_row(p, by_id.get(i), i, "prefix", f"#{start + k + 1}"))
    for i in w.stuck:
        rows.append(_op_row(p, by_id.get(i), i, "violation", "cannot follow"))
    if op is not None:
        placed = set(w.prefix) | set(w.stuck)
        for o in overlapping(op, list(by_id.values()), 6):
            if o.id not in placed:
                rows.append(_op_row(p, o, o.id, "concurrent", "concurrent"))
    return (
        f'<div class="card violation-card"><h3><span class="kind">non-linearizable</span> op {first} cannot be placed</h3>'
        f"<p>The longest linearizable prefix{part} has {len(w.prefix)} operations (highlight it on the timeline). "
        f"After it the model is in state <code>{_e(w.state_text)}</code>, and no remaining operation that must come "
        f"next fits: op {first} is the first that cannot.</p>{cmp}"
        f'<table class="ops">{"".join(rows)}</table>'
        f'<button class="oplink" data-op="{first}">Show op {first} in the timeline</button></div>'
    )


def _anomaly_card(p: Page, a: Anomaly) -> str:
    hist, v, by_id, describe, unit = p.hist, p.v, p.by_id, p.describe, p.unit
    parts = [
        f'<div class="card anomaly" data-kind="{_e(a.kind)}"><h3><span class="kind">{_e(a.kind)}</span></h3>'
    ]
    parts.append(f"<p>{_e(a.message)}</p>")
    details = dict(a.details)
    known = details.pop("known_bug", None)
    if isinstance(known, dict):
        parts.append(
            f'<p class="known-bug"><b>Known etcd bug {_e(known.get("id"))}</b> '
            f"(fixed in {_e(known.get('fixed_in'))}): {_e(known.get('title'))} <code>{_e(known.get('url'))}</code></p>"
        )
    if "expected" in details or "observed" in details:
        exp, obs = details.pop("expected", None), details.pop("observed", None)
        subject = by_id.get(a.ops[0]) if len(a.ops) == 1 else None
        raw = ""
        if subject is not None and (isinstance(exp, dict) or isinstance(obs, dict)):
            raw = (
                "<details><summary>raw values</summary>"
                f"<pre>expected: {_e(_pretty(exp))}\nobserved: {_e(_pretty(obs))}</pre></details>"
            )
        parts.append(
            '<div class="compare">'
            f'<div class="box expected"><h4>Expected</h4><code>{_e(value_text(exp, subject, describe))}</code></div>'
            f'<div class="box observed"><h4>Observed</h4><code>{_e(value_text(obs, subject, describe))}</code></div>'
            f"</div>{raw}"
        )
    related = related_writes(v, a)
    if a.ops or related:
        rows = [_OP_HEAD]
        for i in a.ops[:MAX_ROWS]:
            rows.append(_op_row(p, by_id.get(i), i, "violation"))
        for rev, w in related:
            rows.append(_op_row(p, by_id.get(w), w, "related", f"wrote rev {rev}"))
        if len(a.ops) > MAX_ROWS:
            rows.append(f'<tr class="elided"><td colspan="7">and {len(a.ops) - MAX_ROWS} more</td></tr>')
        parts.append(f'<table class="ops">{"".join(rows)}</table>')
    if a.watch is not None:
        msgs = _watch_window(hist, a)
        lines = [
            f"{w.time / 1e6:.3f} ms  {watch_desc(w, p.labels)}"
            if unit == "ns"
            else f"event {w.time}  {watch_desc(w, p.labels)}"
            for w in msgs[:MAX_ROWS]
        ]
        total = sum(1 for w in hist.watches if w.watch == a.watch)
        shown = (
            f"{len(lines)} of {total} messages, around the revisions named"
            if len(lines) < total
            else f"{total} messages"
        )
        parts.append(f"<h4>Watch stream {_e(a.watch)} ({shown})</h4><pre>{_e(chr(10).join(lines))}</pre>")
    if a.members:
        parts.append(f"<p><b>Members:</b> {_e(', '.join(a.members))}</p>")
    if details:
        rows_d = "".join(
            f"<tr><th>{_e(k)}</th><td><code>{_e(_pretty(val))}</code></td></tr>" for k, val in details.items()
        )
        parts.append(f'<table class="kv">{rows_d}</table>')
    parts.append("</div>")
    return "".join(parts)


def _watch_window(hist: History, a: Anomaly) -> list[Any]:
    """The stream's request and the messages around the first revision the anomaly names."""
    msgs = [w for w in hist.watches if w.watch == a.watch]
    revs = revisions_in(a.details)
    if len(msgs) <= MAX_ROWS or not revs:
        return msgs[:MAX_ROWS]
    target = min(revs)

    def reached(w: Any) -> bool:
        header_rev = int((w.header or {}).get("revision") or 0)
        event_rev = max((int((e.get("kv") or {}).get("mod_revision") or 0) for e in w.events), default=0)
        return max(header_rev, event_rev) >= target

    at = next((i for i, w in enumerate(msgs) if reached(w)), len(msgs) - 1)
    lo = max(0, at - MAX_ROWS // 2)
    window = msgs[lo : lo + MAX_ROWS]
    head = [w for w in msgs[:lo] if w.event == "request"][:1]
    return head + window


def _pretty(value: Any, width: int = 2000) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= width else text[: width - 3] + "..."
