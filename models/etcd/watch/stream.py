"""One watch stream as the guarantees read it: its request, its events (each delivered
twice, out of order, or accepted), its progress notifications, read in one pass."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from models.anomaly import Anomaly
from models.etcd.state import KV, Store
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
    #: (message, revision, accepted events before it) of each ``settled`` record
    settled: list[tuple[int, int, int]] = field(default_factory=list)
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
            if rec.event in ("progress", "settled"):
                marks = self.progress if rec.event == "progress" else self.settled
                marks.append((i, int((rec.header or {}).get("revision") or 0), len(accepted)))
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
