"""What a history showed, extracted once and read by every etcd check.

Every kv a response or a watch event carries is one :class:`Sighting`: the key, the kv,
its mod revision, where it was seen (``via``) and, for reads, at which revision. The
revision search, the lost-write check and the watch checks each select what they rely
on from this one list instead of walking the history again (in the spirit of etcd's
``prepareAndCategorizeOperations``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from models.etcd.requests import header_revision, taken_branch
from models.etcd.state import KV, in_range, kv_from_dict
from models.history import WatchRecord

#: ``via`` of a sighting: where in a response or watch message the kv came from.
RANGE, TXN_RANGE = "range", "txn-range"
PREV, TXN_PREV = "prev", "txn-prev"
DELETED, TXN_DELETED = "deleted", "txn-deleted"
EVENT, EVENT_PREV = "event", "event-prev"


_new = tuple.__new__


class Sighting(NamedTuple):
    """A kv seen at its ``revision`` (mod revision); ``kv`` None: a DELETE event.

    ``exact`` sightings come from linearizable responses, which the replay checks
    anyway, so they may prune gap candidates; others only order them. ``read_revision``
    is the revision a range read at (the requested one, else its header's).
    """

    revision: int
    key: str
    kv: KV | None
    via: str
    op: int | None = None
    read_revision: int | None = None
    exact: bool = False
    keys_only: bool = False
    member: str | None = None
    watch: int | None = None


@dataclass
class WatchCoverage:
    """What one watch stream saw: for each revision in [lo, hi] the changes in its range
    are exactly ``events.get(r, {})`` if etcd is correct (a watch misses nothing)."""

    key: str
    end: str | None
    lo: int
    hi: int
    events: dict[int, dict[str, KV | None]]
    #: Event types the watch asked etcd to leave out.
    filters: frozenset[str] = frozenset()

    def shows(self, kv: KV | None) -> bool:
        return ("nodelete" if kv is None else "noput") not in self.filters

    def fits(self, r: int, changes: list[tuple[str, KV | None]]) -> bool:
        mine = {k: kv for k, kv in changes if in_range(k, self.key, self.end) and self.shows(kv)}
        return mine == self.events.get(r, {})


@dataclass
class Observations:
    sightings: list[Sighting]
    #: Mod revisions of watch events: revisions the history must explain.
    event_revisions: list[int]
    coverage: list[WatchCoverage]

    @classmethod
    def of(cls, ops: Sequence[Any], watches: Sequence[WatchRecord]) -> Observations:
        sightings = op_sightings(ops)
        events = event_sightings(watches)
        return cls(
            sightings + events,
            [s.revision for s in events if s.via == EVENT and s.revision > 1],
            watch_coverage(watches),
        )

    def events_only(self) -> Observations:
        """The same, with each stream's coverage ending at its last event instead of its
        last progress notification: on builds where a requested notification can run
        ahead of events (etcd-io/etcd#15220) one such stream would rule out the order
        every other watch shows."""
        coverage = [
            dataclasses.replace(c, hi=max(c.events))
            for c in self.coverage
            if c.events and max(c.events) >= c.lo
        ]
        return dataclasses.replace(self, coverage=coverage)

    def for_search(self) -> list[Sighting]:
        """What the revision search names gap fillers by: every kv of a revision above 1."""
        return [s for s in self.sightings if s.revision > 1]


def op_sightings(ops: Iterable[Any]) -> list[Sighting]:
    """Every kv an ``ok`` response shows, txn branches included, in history order."""
    out: list[Sighting] = []
    for op in ops:
        if op.status == "ok":
            _walk(op.input, op.output, op.id, getattr(op, "member", None), op.output, out, top=True)
    return out


def _walk(
    req: dict[str, Any],
    output: Any,
    op: int,
    member: str | None,
    top_output: Any,
    out: list[Sighting],
    *,
    top: bool,
) -> None:
    if not isinstance(output, dict) or output.get("error"):
        return
    kind = req.get("kind")
    if kind == "range":
        rr = int(req.get("revision") or 0) or header_revision(top_output)
        exact = not req.get("serializable")
        keys_only = bool(req.get("keys_only"))
        via = RANGE if top else TXN_RANGE
        for d in output.get("kvs") or []:
            kv = kv_from_dict(d)
            if kv is not None:
                out.append(
                    _new(Sighting, (kv.mod_revision, kv.key, kv, via, op, rr, exact, keys_only, member, None))
                )
    elif kind == "put":
        kv = kv_from_dict(output.get("prev_kv"))
        if kv is not None:
            via = PREV if top else TXN_PREV
            out.append(
                _new(Sighting, (kv.mod_revision, kv.key, kv, via, op, None, True, False, member, None))
            )
    elif kind == "delete":
        via = DELETED if top else TXN_DELETED
        for d in output.get("prev_kvs") or []:
            kv = kv_from_dict(d)
            if kv is not None:
                out.append(
                    _new(Sighting, (kv.mod_revision, kv.key, kv, via, op, None, True, False, member, None))
                )
    elif kind == "txn":
        for sub, resp in taken_branch(req, output):
            _walk(sub, resp, op, member, top_output, out, top=False)


def event_sightings(watches: Iterable[WatchRecord]) -> list[Sighting]:
    """Every event's kv (and prev_kv) of every watch stream, in the order received."""
    out: list[Sighting] = []
    for rec in watches:
        if rec.event != "events":
            continue
        member, wid = rec.member, rec.watch
        for ev in rec.events:
            kv = kv_from_dict(ev.get("kv"))
            if kv is None:
                continue
            shown = kv if ev.get("type") != "DELETE" else None
            out.append(
                _new(Sighting, (kv.mod_revision, kv.key, shown, EVENT, None, None, False, False, member, wid))
            )
            prev = kv_from_dict(ev.get("prev_kv"))
            if prev is not None:
                out.append(
                    _new(
                        Sighting,
                        (
                            prev.mod_revision,
                            prev.key,
                            prev,
                            EVENT_PREV,
                            None,
                            None,
                            False,
                            False,
                            member,
                            wid,
                        ),
                    )
                )
    return out


def watch_coverage(watches: Sequence[WatchRecord]) -> list[WatchCoverage]:
    """Per stream, the revisions it must have seen completely (start to last event)."""
    streams: dict[int, list[WatchRecord]] = {}
    for rec in watches:
        streams.setdefault(rec.watch, []).append(rec)
    out = []
    for recs in streams.values():
        req = next((r.request for r in recs if r.event == "request" and r.request), None)
        if req is None:
            continue
        created = next((r.header for r in recs if r.event == "created" and r.header), None)
        start = int(req.get("start_revision") or 0)
        if not start and created:
            start = int(created.get("revision") or 0) + 1
        events, progress = _delivered(recs)
        hi = max([progress, *events])
        if start and hi >= start:
            filters = frozenset(req.get("filters") or ())
            out.append(
                WatchCoverage(str(req.get("key", "")), req.get("range_end"), start, hi, events, filters)
            )
    return out


def _delivered(recs: list[WatchRecord]) -> tuple[dict[int, dict[str, KV | None]], int]:
    """A stream's events by revision and key (None: deleted), and its highest progress
    notification, up to its end."""
    events: dict[int, dict[str, KV | None]] = {}
    progress = 0
    for rec in recs:
        if rec.event in ("canceled", "error"):
            break
        if rec.event == "progress" and rec.header:
            progress = max(progress, int(rec.header.get("revision") or 0))
        if rec.event != "events":
            continue
        for ev in rec.events:
            kv = kv_from_dict(ev.get("kv"))
            if kv is not None:
                events.setdefault(kv.mod_revision, {})[kv.key] = None if ev.get("type") == "DELETE" else kv
    return events, progress
