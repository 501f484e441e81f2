"""From a failed run's history to the few calls behind its anomaly, replayed in order.

Shrinking the plan reruns random traffic, so a bug that needs one exact interleaving
(a compaction at a deletion's revision, then a watch from there) shows in one run of
many however small the plan gets. But the history already holds that interleaving:
the replay the checker found names the write of every revision, and the anomaly names
its watch and revisions. Distilling takes the writes to the watched keys in revision
order, the compaction the watch started after, and the watch itself, and replays them
from one client with nothing else running. A deterministic bug then fails every
time; one that needs concurrency does not reproduce, and the plan is shrunk instead.

Two candidates, smallest first: only the writes to the keys the anomaly names (and
the one write after it whose event the watch must see), then every write to the
watched range up to there. Anomalies that name no watch are not distilled.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

from harness.shrink.live import Target
from harness.shrink.script import Compact, Script, Step, Watch, Write
from models.anomaly import Anomaly
from models.etcd.synthetic import history_compactions
from models.history import History, OpRecord, WatchRecord
from models.verdict import Verdict

#: A key interval [lo, hi); hi None: no end.
Interval = tuple[str, str | None]

WATCH_OPTIONS = {"prev_kv": False, "progress_notify": False, "filters": [], "fragment": False}


def interval(key: str, range_end: str | None) -> Interval:
    if not range_end:
        return key, key + "\0"
    return key, None if range_end == "\0" else range_end


def overlaps(a: Interval, b: Interval) -> bool:
    return (b[1] is None or a[0] < b[1]) and (a[1] is None or b[0] < a[1])


def _parts(request: dict[str, Any]) -> list[dict[str, Any]]:
    return list(request["success"]) if request["kind"] == "txn" else [request]


def intervals(request: dict[str, Any]) -> list[Interval]:
    return [interval(r["key"], r.get("range_end")) for r in _parts(request)]


def effect(op: OpRecord) -> dict[str, Any] | None:
    """The write ``op`` made, as a request the replay makes the same way: a put
    without its lease (its grant is not replayed), a txn of the branch it took."""
    req = op.input
    kind = req.get("kind")
    if kind == "put":
        return {"kind": "put", "key": req["key"], "value": req["value"], "prev_kv": bool(req.get("prev_kv"))}
    if kind == "delete":
        return {"kind": "delete", "key": req["key"], "range_end": req.get("range_end"), "prev_kv": False}
    if kind != "txn" or not isinstance(op.output, dict) or "succeeded" not in op.output:
        return None
    branch = req.get("success" if op.output["succeeded"] else "failure") or []
    writes = [
        effect(OpRecord(op.id, op.client, op.call, r, "ok")) for r in branch if r.get("kind") != "range"
    ]
    if not writes or any(w is None or w["kind"] == "txn" for w in writes):
        return None
    return {"kind": "txn", "compare": [], "success": writes, "failure": []}


def _target_anomaly(verdict: Verdict, target: Target) -> Anomaly | None:
    for a in verdict.anomalies:
        if a.watch is not None and target.found_in([{"kind": a.kind, "details": a.details}]):
            return a
    return None


class _Heads:
    """The head revision at a time: the highest one whose write had returned."""

    def __init__(self, history: History, writers: dict[int, int]):
        by_id = {op.id: op for op in history.ops}
        done = sorted(
            (op.ret, rev) for rev, i in writers.items() if (op := by_id.get(i)) and op.ret is not None
        )
        self.times = [t for t, _ in done]
        self.best = []
        best = 1
        for _, rev in done:
            best = max(best, rev)
            self.best.append(best)

    def at(self, t: int) -> int:
        i = bisect.bisect_left(self.times, t)
        return self.best[i - 1] if i else 1


def _compactions(history: History, before: int) -> list[tuple[int, int]]:
    """(call time, revision) of the compactions called before ``before`` that etcd
    accepted or may have (a fault's)."""
    return sorted((call, rev) for rev, call in history_compactions(history) if call < before)


def distill(history: History, verdict: Verdict, target: Target) -> list[Script]:
    """The candidates, smallest first (none when the anomaly names no watch)."""
    a = _target_anomaly(verdict, target)
    req = history.watch_request(a.watch) if a is not None else None
    if a is None or req is None or not req.request:
        return []
    writers = verdict.witness.writers if verdict.witness is not None else {}
    by_id = {op.id: op for op in history.ops}
    writes = {
        rev: Write(rev, e)
        for rev, i in sorted(writers.items())
        if (op := by_id.get(i)) is not None and (e := effect(op)) is not None
    }
    watch = _watch(req, writes, a)
    scope = interval(watch.key, watch.range_end)
    revision = int(a.details.get("revision") or watch.start)
    named = _named(writes.get(revision), scope, a.details.get("key"))
    last = watch.until if watch.until is not None else revision
    seen = [
        w for r, w in writes.items() if r <= last and any(overlaps(i, scope) for i in intervals(w.request))
    ]
    focused = [
        w
        for w in seen
        if w.revision == watch.until or any(overlaps(i, n) for n in named for i in intervals(w.request))
    ]
    heads = _Heads(history, writers)
    compactions = _compactions(history, req.time)
    out = [
        _script(focused, compactions[-1:], watch, req.time, heads, "the writes to the keys it names"),
        _script(seen, compactions, watch, req.time, heads, "every write to the watched keys"),
    ]
    return [s for i, s in enumerate(out) if s.writes and s.key() not in {o.key() for o in out[:i]}]


def _named(write: Write | None, scope: Interval, key: Any) -> list[Interval]:
    if isinstance(key, str):
        return [interval(key, None)]
    if write is None:
        return []
    return [i for i in intervals(write.request) if overlaps(i, scope)]


def _watch(req: WatchRecord, writes: dict[int, Write], a: Anomaly) -> Watch:
    r = req.request or {}
    start = int(r.get("start_revision") or 0)
    options = {k: r[k] for k, d in WATCH_OPTIONS.items() if r.get(k, d) != d}
    scope = interval(r["key"], r.get("range_end"))
    filters = set(r.get("filters") or ())
    after = int(a.details.get("revision") or start)
    until = next((rev for rev, w in writes.items() if rev > after and _visible(w, scope, filters)), None)
    return Watch(req.watch, r["key"], r.get("range_end") or None, start, options, until)


def _visible(w: Write, scope: Interval, filters: set[str]) -> bool:
    """Whether the watch gets an event for ``w`` (its filters drop puts or deletes)."""
    kinds = {p["kind"] for p in _parts(w.request) if overlaps(interval(p["key"], p.get("range_end")), scope)}
    return bool(kinds - {"put" if "noput" in filters else "", "delete" if "nodelete" in filters else ""})


def _script(
    writes: Sequence[Write],
    compactions: Sequence[tuple[int, int]],
    watch: Watch,
    opened: int,
    heads: _Heads,
    label: str,
) -> Script:
    """The steps in the order they happened: writes by revision, a compaction or the
    watch after the writes that had returned when it was called."""
    keyed: list[tuple[tuple[int, int, int], Step]] = [((w.revision, 0, 0), w) for w in writes]
    keyed += [((max(heads.at(t), rev), 1, t), Compact(rev)) for t, rev in compactions]
    keyed.append(((heads.at(opened), 1, opened), watch))
    keyed.sort(key=lambda kv: kv[0])
    return Script(tuple(step for _, step in keyed), label)
