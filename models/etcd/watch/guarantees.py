"""Each watch guarantee, one function over a :class:`~.stream.Stream`, in the spirit of
etcd's ``validate/watch.go``; each returns its findings with their place in the stream."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from models.anomaly import Anomaly
from models.etcd.state import KV, in_range, kv_from_dict
from models.etcd.watch.stream import END, Compaction, Event, Findings, Replay, Stream


def unique(stream: Stream) -> Findings:
    """Each (revision, key) is delivered once."""
    out: Findings = []
    for r, k, _, msg, pos, _ in stream.duplicates:
        anomaly = stream.report("watch-duplicate", f"event {k!r}@{r} delivered twice", revision=r, key=k)
        out.append(((msg, pos), 0, anomaly))
    return out


def ordered(stream: Stream) -> Findings:
    """Events come in revision order."""
    out: Findings = []
    for (r, k, _, msg, pos, _), last in stream.reordered:
        msg_text = f"event {k!r}@{r} after an event at revision {last}"
        out.append(((msg, pos), 0, stream.report("watch-reorder", msg_text, revision=r, last=last)))
    return out


def atomic(stream: Stream) -> Findings:
    """All events of one revision come in one response."""
    out: Findings = []
    previous: set[int] = set()
    current: set[int] = set()
    message = -1
    for r, _, _, msg, pos, _ in stream.accepted:
        if msg != message:
            if current:
                previous = current
            current, message = set(), msg
        if r in previous and r not in current:
            anomaly = stream.report(
                "watch-split-revision", f"revision {r} split over two responses", revision=r
            )
            out.append(((msg, pos), 1, anomaly))
        current.add(r)
    return out


def progressed(stream: Stream, model: Replay | None) -> Findings:
    """A progress notification at P: every event up to P came before it, none after."""
    out: Findings = []
    delivered: dict[int, set[str]] = defaultdict(set)
    last = notified = 0
    done = 0
    accepted = stream.accepted
    for msg, p, before in [*stream.progress, (END[0], 0, len(accepted))]:
        for r, k, _, emsg, pos, _ in accepted[done:before]:
            if notified and r <= notified:
                text = f"event {k!r}@{r} after a progress notification at {notified}"
                out.append(((emsg, pos), 2, stream.report("watch-progress", text, revision=r)))
            delivered[r].add(k)
            if r > last:
                last = r
        done = before
        if msg == END[0]:
            break
        if p < last:
            text = f"progress notification at {p} after an event at {last}"
            out.append(((msg, 0), 0, stream.report("watch-progress", text, progress=p, last=last)))
        elif model is not None:
            missing = _undelivered(
                stream, model, delivered, last + 1 if done else (stream.first_expected or p + 1), p
            )
            if missing is not None:
                r, k = missing
                text = f"progress notification at {p} but the change of {k!r} at revision {r} was not delivered before it"
                out.append(((msg, 0), 0, stream.report("watch-progress", text, progress=p, revision=r)))
        notified = max(notified, p)
    return out


def delivered_when_settled(stream: Stream, model: Replay | None) -> Findings:
    """Open since its member had applied R, through the wait at the end of a run, a
    stream owes every change it covers up to R: etcd promises delivery, not only order,
    and a stream that falls silent while it stays open breaks that promise."""
    out: Findings = []
    lo = stream.first_expected
    if model is None or lo is None:
        return out
    for msg, r_settled, before in stream.settled:
        delivered: dict[int, set[str]] = defaultdict(set)
        for r, k, *_ in stream.accepted[:before]:
            delivered[r].add(k)
        missing = _undelivered(stream, model, delivered, lo, r_settled)
        if missing is not None:
            r, k = missing
            text = (
                f"still open at the end of the run, its member at revision {r_settled} since the wait "
                f"began, but the change of {k!r} at revision {r} never came"
            )
            out.append(((msg, 0), 0, stream.report("watch-stalled", text, settled=r_settled, revision=r)))
    return out


def _undelivered(
    stream: Stream, model: Replay, delivered: dict[int, set[str]], lo: int, p: int
) -> tuple[int, str] | None:
    """The first covered change from ``lo`` to ``p`` not delivered (revisions past the
    replay changed nothing it knows of)."""
    for r in range(lo, min(p, len(model.changes) - 1) + 1):
        missing = [k for k, _ in stream.covered(r) if k not in delivered[r]]
        if missing:
            return r, missing[0]
    return None


def correct(stream: Stream, model: Replay | None) -> Findings:
    """Each event is inside the watched range and is the change its revision made."""
    out: Findings = []
    key, end, covered = stream.key, stream.end, stream.covered
    checked = bool(stream.request)
    filters = stream.request.get("filters") or ()
    for e in stream.accepted:
        r, k, ev, msg, pos, _ = e
        typ = str(ev.get("type") or "PUT")
        if checked and not in_range(k, key, end):
            text = f"event {k!r}@{r} outside the watched range [{key!r}, {end!r})"
            out.append(((msg, pos), 3, stream.report("watch-wrong-event", text, revision=r, key=k)))
        elif ("no" + typ.lower()) in filters:
            text = f"event {k!r}@{r} is a {typ}, which the watch filtered out"
            out.append(((msg, pos), 3, stream.report("watch-wrong-event", text, revision=r, key=k)))
        elif model is not None:
            wrong = _wrong_event(stream, e, covered(r), model)
            if wrong is not None:
                out.append(((msg, pos), 3, wrong))
    return out


def _wrong_event(
    stream: Stream, e: Event, covered: list[tuple[str, KV | None]], model: Replay
) -> Anomaly | None:
    r, k, ev = e.revision, e.key, e.ev
    match = [kv for k2, kv in covered if k2 == k]
    if not match:
        return stream.report(
            "watch-wrong-event", f"event {k!r}@{r}, but revision {r} did not change {k!r}", revision=r, key=k
        )
    kv = match[0]
    typ = ev.get("type")
    if (kv is None) != (typ == "DELETE"):
        made = "DELETE" if kv is None else "PUT"
        return stream.report(
            "watch-wrong-event", f"event {k!r}@{r} is a {typ}, the revision made a {made}", revision=r
        )
    if kv is not None and kv_from_dict(ev.get("kv")) != kv:
        return stream.report(
            "watch-wrong-event",
            f"event {k!r}@{r} carries {ev.get('kv')}, expected {kv._asdict()}",
            revision=r,
        )
    if not stream.request.get("prev_kv") or model.store is None:
        return None
    prev = model.store.get(k, r - 1)
    got = kv_from_dict(ev.get("prev_kv"))
    # etcd reads prev_kv when it sends the event and leaves it out once compacted.
    if got is None and r - 1 < model.compacted_by(e.time):
        return None
    if got != prev:
        expected = prev._asdict() if prev else None
        return stream.report(
            "watch-wrong-event",
            f"event {k!r}@{r} prev_kv {ev.get('prev_kv')}, expected {expected}",
            revision=r,
        )
    return None


def started(stream: Stream, model: Replay | None, compacted_by: Callable[[int], int]) -> Findings:
    """The first event is the first covered change from the start revision, unless a
    compaction applied on the watch's member removed it; a compaction cancel is one the
    start and the compactions explain."""
    out: Findings = []
    first = stream.accepted[0] if stream.accepted else None
    expected = stream.first_expected
    if first is not None and model is not None and expected is not None:
        at = (first.msg, first.pos)
        bad = _bad_first(stream, first.revision, expected, stream.covered)
        if bad is not None:
            out.append((at, 4, bad))
        compacted = _compacted_before_request(stream, model.compactions)
        if compacted is not None:
            out.append((at, 4, compacted))
    out += [(END, 1, a) for a in _bad_cancel(stream, compacted_by)]
    return out


def _bad_first(
    stream: Stream, first: int, expected_from: int, covered: Callable[[int], list[tuple[str, KV | None]]]
) -> Anomaly | None:
    if first < expected_from:
        msg = f"first event at {first}, before the start revision {expected_from}"
        return stream.report("watch-bad-start", msg, first=first, start=expected_from)
    for r in range(expected_from, first):
        changed = covered(r)
        if changed:
            msg = f"first event at {first}, but revision {r} (>= start {expected_from}) changed a watched key"
            return stream.report(
                "watch-bad-start",
                msg,
                first=first,
                start=expected_from,
                revision=r,
                delete=all(kv is None for _, kv in changed),
            )
    return None


def _compacted_before_request(stream: Stream, compactions: Sequence[Compaction]) -> Anomaly | None:
    """Events from a start revision that a compaction had removed on the watch's member
    before the watch was requested. A watch is served from its member's own store, which
    may not have applied a compaction another member already answered: only one the
    watch's member must have applied counts."""
    start = stream.start
    for c in compactions:
        applied = c.member == stream.member or (
            stream.created_rev is not None and stream.created_rev > c.header_revision
        )
        if start and start < c.revision and c.ret < stream.request_time and applied:
            msg = f"started at {start} though compaction at {c.revision} was applied on its member before the watch was requested"
            return stream.report("watch-bad-start", msg, start=start, compact=c.revision)
    return None


def _bad_cancel(stream: Stream, compacted_by: Callable[[int], int]) -> list[Anomaly]:
    rec = stream.canceled
    if rec is None or not rec.compact_revision:
        return []
    compact = rec.compact_revision
    # etcd cancels a watcher whose next revision fell below the compact revision, also
    # one that started at the current revision and then lagged behind: only a start at
    # or above the compaction rules a cancel out.
    floor = stream.start or (stream.created_rev + 1 if stream.created_rev is not None else 0)
    if floor >= compact:
        msg = f"canceled as compacted at {compact} though it started at {floor}"
        return [stream.report("watch-bad-start", msg, start=floor, compact=compact)]
    if compacted_by(rec.time) < compact:
        msg = f"canceled as compacted at {compact}, beyond every compaction called before"
        return [stream.report("watch-bad-start", msg, compact=compact)]
    return []


def reliable(stream: Stream, model: Replay | None) -> Findings:
    """No change the watch covers is missing between the first and the last delivered
    revision, nor from inside a delivered revision."""
    if model is None:
        return []
    covered = stream.covered
    out: Findings = []
    delivered: dict[int, set[str]] = defaultdict(set)
    last = 0
    for i, (r, k, _, msg, pos, _) in enumerate(stream.accepted):
        if r > last and i:
            g = next((g for g in range(last + 1, r) if covered(g)), None)
            if g is not None:
                text = f"no event for revision {g} (between {last} and {r})"
                out.append(((msg, pos), 5, stream.report("watch-gap", text, revision=g)))
        if r > last and last:
            missing = [(k2, kv) for k2, kv in covered(last) if k2 not in delivered[last]]
            if missing:
                out.append(((msg, pos), 6, _incomplete(stream, last, *missing[0])))
        delivered[r].add(k)
        if r > last:
            last = r
    if last:
        missing = [(k2, kv) for k2, kv in covered(last) if k2 not in delivered[last]]
        if missing:
            out.append((END, 0, _incomplete(stream, last, *missing[0])))
    return out


def _incomplete(stream: Stream, r: int, key: str, kv: object) -> Anomaly:
    msg = f"revision {r} delivered without the {'deletion' if kv is None else 'change'} of {key!r}"
    return stream.report("watch-gap", msg, revision=r, key=key, delete=kv is None, start=stream.start)
