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
  below it that was never delivered before it;
* ``watch-stalled``: a stream still open at the end of a run, through a wait that
  began with its member at revision R (the harness's ``settled`` record), that never
  delivered a covered change up to R.

What "the change at revision r" is comes from the linearizability replay
(``changes[r]``: the one write that created r); when it is not available (the history
failed earlier), only the model-free checks run (order, duplicates, split).

Nothing is expected after a stream ends (``canceled``/``error``) or after its last
message, a history cut short is not a gap, unless the harness recorded that the stream
stayed open, silent, through the settled end of its run.

Each guarantee is one function over a :class:`Stream` (in the spirit of etcd's
``validate/watch.go``): ``unique``, ``ordered``, ``atomic``, ``correct``, ``started``,
``reliable``, ``progressed``, ``delivered_when_settled``. An event delivered twice or out of order is reported once
and not held against the others. Their findings are merged in stream order.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence

from models.anomaly import Anomaly
from models.etcd.state import KV, Store, in_range
from models.etcd.watch.guarantees import (
    atomic,
    correct,
    delivered_when_settled,
    ordered,
    progressed,
    reliable,
    started,
    unique,
)
from models.etcd.watch.stream import Changes, Compaction, Replay, Stream
from models.history import WatchRecord

__all__ = ["Compaction", "check_watches"]


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
        findings += delivered_when_settled(stream, model)
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
    """The changes of revision ``r`` inside the watched range, of the event types the
    watch did not filter out."""

    if model is None:
        return lambda r: []
    changes, key, end = model.changes, stream.key, stream.end
    filters = frozenset(stream.request.get("filters") or ())
    memo: dict[int, list[tuple[str, KV | None]]] = {}

    def shown(kv: KV | None) -> bool:
        return ("nodelete" if kv is None else "noput") not in filters

    def covered(r: int) -> list[tuple[str, KV | None]]:
        got = memo.get(r)
        if got is None:
            got = (
                []
                if r >= len(changes) or r < 2
                else [(k, kv) for k, kv in changes[r] if in_range(k, key, end) and shown(kv)]
            )
            memo[r] = got
        return got

    return covered
