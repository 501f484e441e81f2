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
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from models.anomaly import Anomaly
from models.etcd.state import KV, Store, in_range, kv_from_dict
from models.history import WatchRecord


class Compaction(NamedTuple):
    """An acknowledged compaction: at ``revision``, answered with header ``header_revision``
    by ``member``."""

    revision: int
    call: int
    ret: int
    header_revision: int
    member: str | None


def _ev_key(ev: dict[str, Any]) -> tuple[int, str]:
    kv = ev.get("kv") or {}
    return int(kv.get("mod_revision") or 0), str(kv.get("key", ""))


def check_watches(
    watches: Sequence[WatchRecord],
    *,
    changes: Sequence[Sequence[tuple[str, KV | None]]] | None = None,
    store: Store | None = None,
    compactions: Sequence[Compaction] = (),
    max_revision: int | None = None,
    compaction_calls: Sequence[tuple[int, int]] = (),
) -> list[Anomaly]:
    """Check every stream in ``watches``.

    ``changes``/``store``: the replay (revision -> changes, and the MVCC store for
    ``prev_kv``); ``compactions``: the compactions that succeeded, for the start checks; ``compaction_calls``: (compact revision, call) of
    every compaction that may have taken effect (acknowledged or unknown outcome).
    """
    calls = sorted((call, rev) for rev, call in compaction_calls)
    call_times = [c for c, _ in calls]
    running_max: list[int] = []
    for _, rev in calls:
        running_max.append(max(rev, running_max[-1]) if running_max else rev)

    def compacted_by(t: int) -> int:
        i = bisect_right(call_times, t) - 1
        return running_max[i] if i >= 0 else 0

    streams: dict[int, list[WatchRecord]] = defaultdict(list)
    for rec in watches:
        streams[rec.watch].append(rec)
    out: list[Anomaly] = []
    for wid, recs in streams.items():
        out.extend(_check_stream(wid, recs, changes, store, compactions, max_revision, compacted_by))
    return out


def _check_stream(
    wid: int,
    recs: list[WatchRecord],
    changes: Sequence[Sequence[tuple[str, KV | None]]] | None,
    store: Store | None,
    compactions: Sequence[Compaction],
    max_revision: int | None,
    compacted_by: Callable[[int], int],
) -> list[Anomaly]:
    out: list[Anomaly] = []
    member = [recs[0].member] if recs[0].member else []

    def report(kind: str, msg: str, **details: Any) -> None:
        out.append(Anomaly(kind, f"watch {wid}: {msg}", watch=wid, members=member, details=details))

    req: dict[str, Any] = {}
    created_rev: int | None = None
    request_time = recs[0].time
    for rec in recs:
        if rec.event == "request" and rec.request:
            req = rec.request
            request_time = rec.time
        elif rec.event == "created" and rec.header:
            created_rev = int(rec.header.get("revision") or 0)
    key = str(req.get("key", ""))
    end = req.get("range_end")
    start = int(req.get("start_revision") or 0)
    want_prev = bool(req.get("prev_kv"))
    have_model = changes is not None and req != {}
    first_expected = start if start > 0 else (created_rev + 1 if created_rev is not None else None)

    def covered(r: int) -> list[tuple[str, KV | None]]:
        if changes is None or r >= len(changes) or r < 2:
            return []
        return [(k, kv) for k, kv in changes[r] if in_range(k, key, end)]

    delivered: dict[int, set[str]] = defaultdict(set)
    seen: set[tuple[int, str]] = set()
    last_rev = 0
    last_msg_revs: set[int] = set()
    progress_rev = 0
    first_event_rev: int | None = None
    canceled_compact = 0
    canceled_at = 0
    msg_index = 0
    for rec in recs:
        if rec.event == "canceled":
            canceled_compact = rec.compact_revision
            canceled_at = rec.time
            break
        if rec.event == "error":
            break
        if rec.event == "progress":
            p = int((rec.header or {}).get("revision") or 0)
            if p < last_rev:
                report(
                    "watch-progress",
                    f"progress notification at {p} after an event at {last_rev}",
                    progress=p,
                    last=last_rev,
                )
            elif have_model:
                lo = last_rev + 1 if first_event_rev is not None else (first_expected or p + 1)
                # Revisions past the replay changed nothing it knows of.
                for r in range(lo, min(p, len(changes or ()) - 1) + 1):
                    missing = [k for k, _ in covered(r) if k not in delivered[r]]
                    if missing:
                        report(
                            "watch-progress",
                            f"progress notification at {p} but the change of {missing[0]!r} at revision {r} was not delivered before it",
                            progress=p,
                            revision=r,
                        )
                        break
            progress_rev = max(progress_rev, p)
            continue
        if rec.event != "events":
            continue
        msg_index += 1
        revs_here: set[int] = set()
        for ev in rec.events:
            r, k = _ev_key(ev)
            if (r, k) in seen:
                report("watch-duplicate", f"event {k!r}@{r} delivered twice", revision=r, key=k)
                continue
            if r < last_rev:
                report(
                    "watch-reorder",
                    f"event {k!r}@{r} after an event at revision {last_rev}",
                    revision=r,
                    last=last_rev,
                )
                continue
            if r in last_msg_revs and r not in revs_here:
                report("watch-split-revision", f"revision {r} split over two responses", revision=r)
            if progress_rev and r <= progress_rev:
                report(
                    "watch-progress",
                    f"event {k!r}@{r} after a progress notification at {progress_rev}",
                    revision=r,
                )
            seen.add((r, k))
            revs_here.add(r)
            if req and not in_range(k, key, end):
                report(
                    "watch-wrong-event",
                    f"event {k!r}@{r} outside the watched range [{key!r}, {end!r})",
                    revision=r,
                    key=k,
                )
            elif have_model:
                _check_event(ev, r, k, covered(r), want_prev, store, report, compacted_by(rec.time))
            if first_event_rev is None:
                first_event_rev = r
                if have_model and first_expected is not None:
                    _check_start(r, first_expected, covered, max_revision, report)
                    for c in compactions:
                        # A watch is served from its member's own store, which may not
                        # have applied a compaction another member already answered:
                        # only one the watch's member must have applied counts.
                        applied = c.member == recs[0].member or (
                            created_rev is not None and created_rev > c.header_revision
                        )
                        if start and start < c.revision and c.ret < request_time and applied:
                            report(
                                "watch-bad-start",
                                f"started at {start} though compaction at {c.revision} was applied on its member before the watch was requested",
                                start=start,
                                compact=c.revision,
                            )
                            break
            elif have_model and r > last_rev:
                for g in range(last_rev + 1, r):
                    if covered(g):
                        report(
                            "watch-gap", f"no event for revision {g} (between {last_rev} and {r})", revision=g
                        )
                        break
            if r > last_rev and have_model and last_rev:
                missing = [k2 for k2, _ in covered(last_rev) if k2 not in delivered[last_rev]]
                if missing:
                    report(
                        "watch-gap",
                        f"revision {last_rev} delivered without the change of {missing[0]!r}",
                        revision=last_rev,
                    )
            delivered[r].add(k)
            last_rev = max(last_rev, r)
        if revs_here:
            last_msg_revs = revs_here
    if have_model and last_rev:
        missing = [k2 for k2, _ in covered(last_rev) if k2 not in delivered[last_rev]]
        if missing:
            report(
                "watch-gap",
                f"revision {last_rev} delivered without the change of {missing[0]!r}",
                revision=last_rev,
            )
    if canceled_compact:
        # etcd cancels a watcher whose next revision fell below the compact revision,
        # also one that started at the current revision and then lagged behind: only a
        # start at or above the compaction rules a cancel out.
        floor = start or (created_rev + 1 if created_rev is not None else 0)
        if floor >= canceled_compact:
            report(
                "watch-bad-start",
                f"canceled as compacted at {canceled_compact} though it started at {floor}",
                start=floor,
                compact=canceled_compact,
            )
        elif compacted_by(canceled_at) < canceled_compact:
            report(
                "watch-bad-start",
                f"canceled as compacted at {canceled_compact}, beyond every compaction called before",
                compact=canceled_compact,
            )
    return out


def _check_start(first: int, expected_from: int, covered: Any, max_revision: int | None, report: Any) -> None:
    if first < expected_from:
        report(
            "watch-bad-start",
            f"first event at {first}, before the start revision {expected_from}",
            first=first,
            start=expected_from,
        )
        return
    for r in range(expected_from, first):
        changed = covered(r)
        if changed:
            report(
                "watch-bad-start",
                f"first event at {first}, but revision {r} (>= start {expected_from}) changed a watched key",
                first=first,
                start=expected_from,
                revision=r,
                delete=all(kv is None for _, kv in changed),
            )
            return


def _check_event(
    ev: dict[str, Any],
    r: int,
    k: str,
    covered: list[tuple[str, KV | None]],
    want_prev: bool,
    store: Store | None,
    report: Any,
    compacted: int = 0,
) -> None:
    match = [kv for k2, kv in covered if k2 == k]
    if not match:
        report(
            "watch-wrong-event", f"event {k!r}@{r}, but revision {r} did not change {k!r}", revision=r, key=k
        )
        return
    kv = match[0]
    typ = ev.get("type")
    if (kv is None) != (typ == "DELETE"):
        report(
            "watch-wrong-event",
            f"event {k!r}@{r} is a {typ}, the revision made a {'DELETE' if kv is None else 'PUT'}",
            revision=r,
        )
        return
    if kv is not None and kv_from_dict(ev.get("kv")) != kv:
        report(
            "watch-wrong-event",
            f"event {k!r}@{r} carries {ev.get('kv')}, expected {kv._asdict()}",
            revision=r,
        )
        return
    if want_prev and store is not None:
        prev = store.get(k, r - 1)
        got = kv_from_dict(ev.get("prev_kv"))
        if got is None and r - 1 < compacted:
            return
        if got != prev:
            report(
                "watch-wrong-event",
                f"event {k!r}@{r} prev_kv {ev.get('prev_kv')}, expected {prev._asdict() if prev else None}",
                revision=r,
            )
