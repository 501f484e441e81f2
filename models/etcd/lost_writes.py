"""Acknowledged writes are never lost: a quick check before the search, naming the write.

The linearizability search would also reject such a history, but it reports "this
read does not match", far from the cause. This pass names the write.

An acknowledged put of ``k=v`` reports the revision ``R`` it created, and values are
unique in our traffic, so ``(k, v)`` identifies it. Two observations betray a lost write:

* **shifted**: ``k=v`` is seen (any read, serializable or not, ``prev_kv``, watch event)
  with a ``mod_revision`` below ``R``: the member that shows it misses an earlier
  write. (Seen *above* ``R``, the write was applied again or its acknowledgement came
  from a member that is itself behind; the linearizability check reports that.) etcd-io/etcd#13766 looks exactly like this:
  a killed member restarts without one acknowledged write; every later revision on it
  is one lower, so the acked ``k=v@R`` reads as ``mod_revision R-1`` there. Comparing
  values alone misses it.
* **stale**: a read at revision ``rr`` shows key ``k`` with a ``mod_revision`` below the
  revision ``R <= rr`` of the latest acknowledged write to ``k``: that write is missing
  from the state the read saw (a write with unknown outcome could only make the key
  newer, never older). An absent key counts when no write with unknown outcome could
  have deleted it and the acknowledged write is a put.

Observations are grouped by member; on a member with shifted observations the lost
write is among the acknowledged writes between the last revision it still shows
correctly and the first it shows shifted, which is usually exactly one write.
Findings are ``lost-write`` anomalies (one per member and lost write).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from models.anomaly import Anomaly
from models.etcd.model import describe
from models.etcd.observations import EVENT, PREV, RANGE, Sighting
from models.etcd.requests import header_revision, put_values, taken_branch, touched_keys, writes_of
from models.etcd.state import in_range
from models.history import OpRecord

#: A key range that may hold any key: what a request deletes when its keys cannot be named.
ANY_KEY: list[tuple[str, str | None]] = [("", "\x00")]


@dataclass
class _Acked:
    revision: int
    op: int
    key: str
    value: str | None  # None: a deletion


class _Seen(NamedTuple):
    key: str
    value: str | None
    mod_revision: int
    read_revision: int | None
    member: str
    source: str
    op: int | None


def _acked_writes(ops: Sequence[OpRecord]) -> list[_Acked]:
    out: list[_Acked] = []

    def walk(req: dict[str, Any], output: Any, rev: int, op: int) -> None:
        kind = req.get("kind")
        if kind == "put":
            out.append(_Acked(rev, op, req["key"], str(req.get("value", ""))))
        elif kind == "delete" and req.get("prev_kv"):
            for d in output.get("prev_kvs") or []:
                out.append(_Acked(rev, op, str(d.get("key")), None))
        elif kind == "delete" and not req.get("range_end") and int(output.get("deleted") or 0) > 0:
            out.append(_Acked(rev, op, req["key"], None))
        elif kind == "txn":
            for sub, resp in taken_branch(req, output):
                if isinstance(resp, dict):
                    walk(sub, resp, rev, op)

    for op in ops:
        if op.status != "ok" or not isinstance(op.output, dict) or op.output.get("error"):
            continue
        if op.input.get("kind") == "range" or not writes_of(op.input, op.output):
            continue
        rev = header_revision(op.output)
        if rev is not None:
            walk(op.input, op.output, rev, op.id)
    return out


@dataclass
class _Writes:
    """The acknowledged writes, by value (which names one write) and by key."""

    acked: list[_Acked]
    by_value: dict[tuple[str, str], _Acked] = field(default_factory=dict)
    #: Values that do not name one write: written twice, or also by a request of unknown
    #: outcome (a retry of the same put), which may have made the revision seen.
    dup_values: set[tuple[str, str]] = field(default_factory=set)
    by_key: dict[str, list[_Acked]] = field(default_factory=lambda: defaultdict(list))
    key_revs: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, ops: Sequence[OpRecord]) -> _Writes:
        w = cls(_acked_writes(ops))
        for a in w.acked:
            w.by_key[a.key].append(a)
            if a.value is not None:
                kv = (a.key, a.value)
                if kv in w.by_value:
                    w.dup_values.add(kv)
                w.by_value[kv] = a
        for op in ops:
            if op.status == "unknown":
                w.dup_values.update(kv for kv in put_values(op.input) if kv in w.by_value)
        for lst in w.by_key.values():
            lst.sort(key=lambda a: a.revision)
        w.key_revs = {k: [a.revision for a in lst] for k, lst in w.by_key.items()}
        return w

    def latest(self, key: str, rev: int) -> _Acked | None:
        """The latest acknowledged write to ``key`` at or below revision ``rev``."""
        revs = self.key_revs.get(key)
        if not revs:
            return None
        i = bisect_right(revs, rev) - 1
        return self.by_key[key][i] if i >= 0 else None


def _seen(sightings: Iterable[Sighting]) -> list[_Seen]:
    """What the check reads: top-level ranges (serializable ones too), prev_kv of puts
    and the kvs of PUT events."""
    out: list[_Seen] = []
    for s in sightings:
        if s.kv is None or s.via not in (RANGE, PREV, EVENT):
            continue
        value = None if s.keys_only else s.kv.value
        source = f"op {s.op}" if s.op is not None else f"watch {s.watch}"
        out.append(_Seen(s.key, value, s.revision, s.read_revision, s.member or "?", source, s.op))
    return out


def check_lost_writes(
    ops: Sequence[OpRecord], sightings: Iterable[Sighting] = (), *, leases_may_expire: bool = False
) -> list[Anomaly]:
    """``sightings``: what the history showed (:mod:`.observations`); ``leases_may_expire``:
    some lease's TTL may run out within the history, deleting its keys with no operation
    to show for it."""
    writes = _Writes.of(ops)
    shifted, correct, stale = _classify(_seen(sightings), writes)
    _absent_keys(ops, writes, stale, leases_may_expire)
    out = _stale_anomalies(ops, stale)
    reported = {(a.op, m) for (m, _), (a, _) in stale.items()}
    return out + _shifted_anomalies(shifted, correct, writes.acked, reported)


def _classify(
    seen: list[_Seen], writes: _Writes
) -> tuple[
    dict[str, list[tuple[_Acked, _Seen]]], dict[str, set[int]], dict[tuple[str, int], tuple[_Acked, _Seen]]
]:
    """Per member, the acknowledged values seen below their revision (shifted) and at it
    (correct); per (member, revision), a read that missed the latest write (stale)."""
    shifted: dict[str, list[tuple[_Acked, _Seen]]] = defaultdict(list)
    correct: dict[str, set[int]] = defaultdict(set)
    stale: dict[tuple[str, int], tuple[_Acked, _Seen]] = {}
    by_value = writes.by_value
    for s in seen:
        named = by_value.get((s.key, s.value)) if s.value is not None else None
        if named is not None and (s.key, s.value) not in writes.dup_values:
            if s.mod_revision < named.revision:
                shifted[s.member].append((named, s))
            elif s.mod_revision == named.revision:
                correct[s.member].add(named.revision)
        is_shifted = named is not None and named.revision != s.mod_revision
        if s.read_revision is not None and not is_shifted:
            a = writes.latest(s.key, s.read_revision)
            if a is not None and s.mod_revision < a.revision:
                stale.setdefault((s.member, a.revision), (a, s))
    return shifted, correct, stale


def _absent_keys(
    ops: Sequence[OpRecord],
    writes: _Writes,
    stale: dict[tuple[str, int], tuple[_Acked, _Seen]],
    leases_may_expire: bool,
) -> None:
    """Single-key reads that found nothing after an acknowledged put, when nothing of
    unknown outcome and no acknowledged delete could have removed the key."""
    unknown_keys: list[tuple[str, str | None]] = []
    for op in ops:
        if op.status == "unknown" and op.input.get("kind") in ("delete", "txn", "lease_revoke"):
            unknown_keys.extend(touched_keys(op.input) or ANY_KEY)
    any_unknown_revoke = leases_may_expire or any(
        op.status == "unknown" and op.input.get("kind") == "lease_revoke" for op in ops
    )
    deleters = _deleters(ops)
    for op in ops:
        rr = _empty_single_read(op)
        if rr is None:
            continue
        key = op.input["key"]
        a = writes.latest(key, rr)
        if a is None or a.value is None:
            continue
        if any_unknown_revoke or any(
            in_range(key, k, e) or (e is None and k == key) for k, e in unknown_keys
        ):
            continue
        if any(
            a.revision < r <= rr and any(in_range(key, k, e) for k, e in ranges) for r, ranges in deleters
        ):
            continue
        seen = _Seen(key, None, 0, rr, op.member or "?", f"op {op.id}", op.id)
        stale.setdefault((seen.member, a.revision), (a, seen))


def _empty_single_read(op: OpRecord) -> int | None:
    """The revision a successful single-key read that found nothing read at, or None."""
    if op.status != "ok" or op.input.get("kind") != "range" or not isinstance(op.output, dict):
        return None
    if op.output.get("error") or op.input.get("range_end") or op.input.get("count_only"):
        return None
    if op.output.get("kvs") or op.output.get("count"):
        return None
    return int(op.input.get("revision") or 0) or header_revision(op.output)


def _deleters(ops: Sequence[OpRecord]) -> list[tuple[int, list[tuple[str, str | None]]]]:
    """Acknowledged requests that may have deleted keys we cannot name (range deletes
    without prev_kv, txns, lease revokes), by revision."""
    out: list[tuple[int, list[tuple[str, str | None]]]] = []
    for op in ops:
        kind = op.input.get("kind")
        if (
            op.status != "ok"
            or kind not in ("delete", "txn", "lease_revoke")
            or not isinstance(op.output, dict)
        ):
            continue
        rev = header_revision(op.output)
        if rev is not None:
            out.append((rev, touched_keys(op.input) or ANY_KEY))
    return out


def _stale_anomalies(
    ops: Sequence[OpRecord], stale: dict[tuple[str, int], tuple[_Acked, _Seen]]
) -> list[Anomaly]:
    op_by_id = {op.id: op for op in ops}
    out: list[Anomaly] = []
    for (member, _rev), (a, s) in sorted(stale.items(), key=lambda x: (x[0][0], x[0][1])):
        w = op_by_id[a.op]
        shown = f"mod_revision {s.mod_revision}" if s.mod_revision else "no such key"
        details: dict[str, Any] = {"revision": a.revision, "observed_mod_revision": s.mod_revision}
        msg = (
            f"acknowledged write op {a.op} ({describe(w.input, w.output)}) is missing on member {member}: "
            f"{s.source} read {a.key!r} at revision {s.read_revision} and got {shown}"
        )
        if w.member and w.member != member:
            # Either member may be the broken one: the reader misses the write, or the
            # member that acknowledged it numbers revisions differently (it lost writes).
            details["acknowledged_by"] = w.member
            msg += f" (the write was acknowledged by {w.member}; the two disagree on revision {a.revision})"
        ops_named = [a.op] + ([s.op] if s.op is not None else [])
        out.append(Anomaly("lost-write", msg, ops_named, members=[member], details=details))
    return out


def _shifted_anomalies(
    shifted: dict[str, list[tuple[_Acked, _Seen]]],
    correct: dict[str, set[int]],
    acked: list[_Acked],
    reported: set[tuple[int, str]],
) -> list[Anomaly]:
    """One anomaly per member that shows acknowledged writes below their revisions,
    naming the lost write between the last revision it shows right and the first wrong."""
    out: list[Anomaly] = []
    for member, pairs in sorted(shifted.items()):
        pairs.sort(key=lambda x: x[0].revision)
        first_a, first_s = pairs[0]
        shift = first_s.mod_revision - first_a.revision
        below = [r for r in correct[member] if r < first_a.revision]
        good = max(below) if below else 1
        lost = [a for a in acked if good < a.revision < first_a.revision and a.value is not None]
        lost = sorted({a.op: a for a in lost}.values(), key=lambda a: a.revision)
        if any((a.op, member) in reported for a in lost):
            continue
        msg = _shift_message(member, lost, shift, first_a, first_s, acked)
        out.append(
            Anomaly(
                "lost-write",
                f"{msg}; e.g. acked op {first_a.op} {first_a.key}={first_a.value}@{first_a.revision} "
                f"seen by {first_s.source} with mod_revision {first_s.mod_revision}",
                [a.op for a in lost] + [first_a.op] + ([first_s.op] if first_s.op is not None else []),
                members=[member],
                details={
                    "shift": shift,
                    "first_shifted_revision": first_a.revision,
                    "shifted_observations": len(pairs),
                },
            )
        )
    return out


def _shift_message(
    member: str, lost: list[_Acked], shift: int, first_a: _Acked, first_s: _Seen, acked: list[_Acked]
) -> str:
    if lost and shift < 0 and len(lost) <= -shift:
        names = "; ".join(f"op {a.op} ({a.key}={a.value}@{a.revision})" for a in lost)
        return f"member {member} lost acknowledged write {names}: later writes are shifted by {shift} there"
    names = "; ".join(f"op {a.op}@{a.revision}" for a in lost[:5])
    if names:
        return f"member {member} shows acknowledged writes at shifted revisions (candidates for the lost write: {names})"
    owner = [a.op for a in acked if a.revision == first_s.mod_revision]
    clash = f", the revision of acknowledged op {owner[0]}" if owner else ""
    return f"member {member} shows acknowledged op {first_a.op} at revision {first_s.mod_revision}{clash}"
