"""Watch guarantees, checked per stream against the writes of the replayed history.

etcd documents (api_guarantees "Watch APIs") that a watch delivers, for its key range,
every event from its start revision on, in revision order, each once, with all events
of one revision in one response (Atomic), and that a progress notification at revision P
means every event up to P was delivered. Per stream we check exactly that, and report:

* ``watch-wrong-event``: an event outside the watched range, or not the change the
  revision made (type, kv, ``prev_kv`` when asked for), or of a revision that changed
  nothing the watch covers. etcd reads ``prev_kv`` at ``mod_revision - 1`` when it sends
  the event and leaves it out when that revision is compacted by then, so a missing
  ``prev_kv`` is allowed once a compaction at or above the event's revision may have
  happened before the event arrived;
* ``watch-duplicate``: the same (revision, key) delivered twice;
* ``watch-reorder``: a revision lower than one already delivered;
* ``watch-split-revision``: one revision's events spread over two responses;
* ``watch-gap``: a change the watch covers, between the first and the last delivered
  revision (or inside a delivered revision), that never came;
* ``watch-bad-start``: the first event is not the first covered change at or after the
  start revision (the created header's revision + 1 for ``start_revision`` 0); or a
  compaction cancel that the start revision does not explain, or events from a start
  revision that a compaction had removed on the watch's member before the watch was
  requested (applied there: answered by that member, or the watch was created at a
  revision above the compaction's answer; a lagging member may not have applied it
  yet, and a watch is served from its member's own store). A cancel is only wrong
  when the watch started at or above the compact revision it names (for a watch from
  the current revision: the created header's revision + 1; a watcher that lags behind
  is canceled too), or when no compaction at or above it was called before the cancel
  arrived, acknowledged or of unknown outcome (a compaction whose member was killed
  under it may still have been applied);
* ``watch-progress``: a progress notification below an event already delivered, an
  event at or below a notified revision arriving after it, or a covered change at or
  below it that was never delivered before it.

What "the change at revision r" is comes from the linearizability replay
(``changes[r]``: the one write that created r); when it is not available (the history
failed earlier), only the model-free checks run (order, duplicates, split).

Nothing is expected after a stream ends (``canceled``/``error``) or after its last
message: a history cut short is not a gap.

Each guarantee is one function over a :class:`Stream` (in the spirit of etcd's
``validate/watch.go``): ``unique``, ``ordered``, ``atomic``, ``correct``, ``started``,
``reliable``, ``progressed``. An event delivered twice or out of order is reported once
and not held against the others. Their findings are merged in stream order.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from models.anomaly import Anomaly
from models.etcd.state import KV, Store, in_range, kv_from_dict
from models.history import WatchRecord

Changes = Sequence[Sequence[tuple[str, KV | None]]]
#: Where in a stream a finding is: (message index, event index); END after the last.
Position = tuple[int, int]
END: Position = (1 << 62, 0)


class Compaction(NamedTuple):
    """An acknowledged compaction: at ``revision``, answered with header ``header_revision``
    by ``member``."""

    revision: int
    call: int
    ret: int
    header_revision: int
    member: str | None


_new = tuple.__new__


class Event(NamedTuple):
    """One event of a stream: message ``msg``, position ``pos`` in it, the time the
    message arrived. The checks unpack it: its fields are read once per event per check."""

    revision: int
    key: str
    ev: dict[str, Any]
    msg: int
    pos: int
    time: int


@dataclass
class Replay:
    """What the linearizability replay established, for the checks that need a model:
    ``changes[r]`` the changes revision ``r`` made, ``store`` for ``prev_kv``."""

    changes: Changes
    store: Store | None
    compactions: Sequence[Compaction]
    max_revision: int | None
    #: The highest revision a compaction called by then may have compacted to.
    compacted_by: Callable[[int], int]


def _nothing(r: int) -> list[tuple[str, KV | None]]:
    return []


@dataclass
class Stream:
    """One watch stream up to its end: its request, its events (each delivered twice,
    out of order, or accepted), its progress notifications."""

    id: int
    member: str | None
    request: dict[str, Any]
    created_rev: int | None
    request_time: int
    key: str = ""
    end: str | None = None
    start: int = 0
    #: the events neither delivered twice nor out of order, which the other checks read
    accepted: list[Event] = field(default_factory=list)
    #: (message, revision, accepted events before it) of each progress notification
    progress: list[tuple[int, int, int]] = field(default_factory=list)
    duplicates: list[Event] = field(default_factory=list)
    reordered: list[tuple[Event, int]] = field(default_factory=list)
    canceled: WatchRecord | None = None
    #: The changes of a revision inside the watched range, once a replay is known.
    covered: Callable[[int], list[tuple[str, KV | None]]] = _nothing

    @property
    def first_expected(self) -> int | None:
        """The first revision the stream must deliver from (created + 1 for start 0)."""
        if self.start > 0:
            return self.start
        return self.created_rev + 1 if self.created_rev is not None else None

    def report(self, kind: str, msg: str, **details: Any) -> Anomaly:
        members = [self.member] if self.member else []
        return Anomaly(kind, f"watch {self.id}: {msg}", watch=self.id, members=members, details=details)

    @classmethod
    def of(cls, wid: int, recs: list[WatchRecord]) -> Stream:
        req: dict[str, Any] = {}
        created_rev: int | None = None
        request_time = recs[0].time
        for rec in recs:
            if rec.event == "request" and rec.request:
                req = rec.request
                request_time = rec.time
            elif rec.event == "created" and rec.header:
                created_rev = int(rec.header.get("revision") or 0)
        s = cls(wid, recs[0].member, req, created_rev, request_time)
        s.key, s.end, s.start = (
            str(req.get("key", "")),
            req.get("range_end"),
            int(req.get("start_revision") or 0),
        )
        s._read(recs)
        return s

    def _read(self, recs: list[WatchRecord]) -> None:
        """Events and progress notifications up to the end, each event accepted or set
        aside as delivered twice or out of order, in one pass."""
        seen: set[tuple[int, str]] = set()
        accepted = self.accepted
        last = 0
        for i, rec in enumerate(recs):
            if rec.event in ("canceled", "error"):
                self.canceled = rec if rec.event == "canceled" else None
                return
            if rec.event == "progress":
                self.progress.append((i, int((rec.header or {}).get("revision") or 0), len(accepted)))
            elif rec.event == "events":
                t = rec.time
                for j, ev in enumerate(rec.events):
                    kv = ev.get("kv") or {}
                    r, k = int(kv.get("mod_revision") or 0), str(kv.get("key", ""))
                    e = _new(Event, (r, k, ev, i, j, t))
                    if (r, k) in seen:
                        self.duplicates.append(e)
                    elif r < last:
                        self.reordered.append((e, last))
                    else:
                        seen.add((r, k))
                        accepted.append(e)
                        if r > last:
                            last = r


#: Findings of one check: (position, rank among the checks at one position, anomaly).
Findings = list[tuple[Position, int, Anomaly]]


def check_watches(
    watches: Sequence[WatchRecord],
    *,
    changes: Changes | None = None,
    store: Store | None = None,
    compactions: Sequence[Compaction] = (),
    max_revision: int | None = None,
    compaction_calls: Sequence[tuple[int, int]] = (),
) -> list[Anomaly]:
    """Check every stream in ``watches``.

    ``changes``/``store``: the replay (revision -> changes, and the MVCC store for
    ``prev_kv``); ``compactions``: the compactions that succeeded, for the start checks;
    ``compaction_calls``: (compact revision, call) of every compaction that may have
    taken effect (acknowledged or unknown outcome).
    """
    compacted_by = _compacted_by(compaction_calls)
    replay = Replay(changes, store, compactions, max_revision, compacted_by) if changes is not None else None
    streams: dict[int, list[WatchRecord]] = defaultdict(list)
    for rec in watches:
        streams[rec.watch].append(rec)
    out: list[Anomaly] = []
    for wid, recs in streams.items():
        stream = Stream.of(wid, recs)
        model = replay if stream.request else None
        stream.covered = _covered(stream, model)
        findings = unique(stream) + ordered(stream) + atomic(stream) + progressed(stream, model)
        findings += correct(stream, model) + started(stream, model, compacted_by) + reliable(stream, model)
        findings.sort(key=lambda f: (f[0], f[1]))
        out.extend(a for _, _, a in findings)
    return out


def _compacted_by(compaction_calls: Sequence[tuple[int, int]]) -> Callable[[int], int]:
    calls = sorted((call, rev) for rev, call in compaction_calls)
    call_times = [c for c, _ in calls]
    running_max: list[int] = []
    for _, rev in calls:
        running_max.append(max(rev, running_max[-1]) if running_max else rev)

    def compacted_by(t: int) -> int:
        i = bisect_right(call_times, t) - 1
        return running_max[i] if i >= 0 else 0

    return compacted_by


def _covered(stream: Stream, model: Replay | None) -> Callable[[int], list[tuple[str, KV | None]]]:
    """The changes of revision ``r`` inside the watched range."""

    if model is None:
        return lambda r: []
    changes, key, end = model.changes, stream.key, stream.end
    memo: dict[int, list[tuple[str, KV | None]]] = {}

    def covered(r: int) -> list[tuple[str, KV | None]]:
        got = memo.get(r)
        if got is None:
            got = (
                []
                if r >= len(changes) or r < 2
                else [(k, kv) for k, kv in changes[r] if in_range(k, key, end)]
            )
            memo[r] = got
        return got

    return covered


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
    for e in stream.accepted:
        r, k, _, msg, pos, _ = e
        if checked and not in_range(k, key, end):
            text = f"event {k!r}@{r} outside the watched range [{key!r}, {end!r})"
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
            missing = [k2 for k2, _ in covered(last) if k2 not in delivered[last]]
            if missing:
                out.append(((msg, pos), 6, _incomplete(stream, last, missing[0])))
        delivered[r].add(k)
        if r > last:
            last = r
    if last:
        missing = [k2 for k2, _ in covered(last) if k2 not in delivered[last]]
        if missing:
            out.append((END, 0, _incomplete(stream, last, missing[0])))
    return out


def _incomplete(stream: Stream, r: int, key: str) -> Anomaly:
    return stream.report("watch-gap", f"revision {r} delivered without the change of {key!r}", revision=r)
