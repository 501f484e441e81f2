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
from dataclasses import dataclass
from typing import Any

from models.anomaly import Anomaly
from models.etcd.model import describe
from models.etcd.requests import header_revision, put_values, taken_branch, touched_keys, writes_of
from models.etcd.state import in_range, kv_from_dict
from models.history import OpRecord, WatchRecord


@dataclass
class _Acked:
    revision: int
    op: int
    key: str
    value: str | None  # None: a deletion


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
class _Seen:
    key: str
    value: str | None
    mod_revision: int
    read_revision: int | None
    member: str
    source: str
    op: int | None


def _observations(ops: Sequence[OpRecord], watches: Iterable[WatchRecord]) -> list[_Seen]:
    out: list[_Seen] = []
    for op in ops:
        if op.status != "ok" or not isinstance(op.output, dict) or op.output.get("error"):
            continue
        member = op.member or "?"
        kind = op.input.get("kind")
        if kind == "range":
            hdr = header_revision(op.output)
            rr = int(op.input.get("revision") or 0) or hdr
            keys_only = bool(op.input.get("keys_only"))
            for d in op.output.get("kvs") or []:
                kv = kv_from_dict(d)
                if kv is not None:
                    out.append(
                        _Seen(
                            kv.key,
                            None if keys_only else kv.value,
                            kv.mod_revision,
                            rr,
                            member,
                            f"op {op.id}",
                            op.id,
                        )
                    )
        elif kind == "put" and op.output.get("prev_kv"):
            kv = kv_from_dict(op.output["prev_kv"])
            if kv is not None:
                out.append(_Seen(kv.key, kv.value, kv.mod_revision, None, member, f"op {op.id}", op.id))
    for rec in watches:
        if rec.event != "events":
            continue
        for ev in rec.events:
            kv = kv_from_dict(ev.get("kv"))
            if kv is not None and ev.get("type") == "PUT":
                out.append(
                    _Seen(
                        kv.key, kv.value, kv.mod_revision, None, rec.member or "?", f"watch {rec.watch}", None
                    )
                )
    return out


def check_lost_writes(
    ops: Sequence[OpRecord], watches: Sequence[WatchRecord] = (), *, leases_may_expire: bool = False
) -> list[Anomaly]:
    """``leases_may_expire``: some lease's TTL may run out within the history, deleting
    its keys with no operation to show for it."""
    acked = _acked_writes(ops)
    by_value: dict[tuple[str, str], _Acked] = {}
    dup_values: set[tuple[str, str]] = set()
    by_key: dict[str, list[_Acked]] = defaultdict(list)
    for a in acked:
        by_key[a.key].append(a)
        if a.value is not None:
            kv = (a.key, a.value)
            if kv in by_value:
                dup_values.add(kv)
            by_value[kv] = a
    # A value also written by a request of unknown outcome (a retry of the same put) does
    # not name one write: the unknown one may have made the revision that was seen.
    for op in ops:
        if op.status == "unknown":
            dup_values.update(kv for kv in put_values(op.input) if kv in by_value)
    for lst in by_key.values():
        lst.sort(key=lambda a: a.revision)
    key_revs = {k: [a.revision for a in lst] for k, lst in by_key.items()}
    unknown_keys: list[tuple[str, str | None]] = []
    for op in ops:
        if op.status == "unknown" and op.input.get("kind") in ("delete", "txn", "lease_revoke"):
            unknown_keys.extend(touched_keys(op.input) or [("", "\x00")])
    any_unknown_revoke = leases_may_expire or any(
        op.status == "unknown" and op.input.get("kind") == "lease_revoke" for op in ops
    )
    # acknowledged requests that may have deleted keys we cannot name (range deletes
    # without prev_kv, txns, lease revokes), by revision
    deleters: list[tuple[int, list[tuple[str, str | None]]]] = []
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
            deleters.append((rev, touched_keys(op.input) or [("", "\x00")]))

    shifted: dict[str, list[tuple[_Acked, _Seen]]] = defaultdict(list)
    correct: dict[str, set[int]] = defaultdict(set)
    stale: dict[tuple[str, int], tuple[_Acked, _Seen]] = {}
    for s in _observations(ops, watches):
        if s.value is not None and (s.key, s.value) in by_value and (s.key, s.value) not in dup_values:
            a = by_value[(s.key, s.value)]
            if s.mod_revision < a.revision:
                shifted[s.member].append((a, s))
            elif s.mod_revision == a.revision:
                correct[s.member].add(a.revision)
        is_shifted = (
            s.value is not None
            and (s.key, s.value) in by_value
            and by_value[(s.key, s.value)].revision != s.mod_revision
        )
        if s.read_revision is not None and s.key in key_revs and not is_shifted:
            i = bisect_right(key_revs[s.key], s.read_revision) - 1
            if i >= 0:
                a = by_key[s.key][i]
                if s.mod_revision < a.revision:
                    stale.setdefault((s.member, a.revision), (a, s))
    # absent keys: single-key reads that found nothing after an acknowledged put
    for op in ops:
        if op.status != "ok" or op.input.get("kind") != "range" or not isinstance(op.output, dict):
            continue
        if op.output.get("error") or op.input.get("range_end") or op.input.get("count_only"):
            continue
        if op.output.get("kvs") or op.output.get("count"):
            continue
        key = op.input["key"]
        rr = int(op.input.get("revision") or 0) or header_revision(op.output)
        if rr is None or key not in key_revs:
            continue
        i = bisect_right(key_revs[key], rr) - 1
        if i < 0 or by_key[key][i].value is None:
            continue
        if any_unknown_revoke or any(
            in_range(key, k, e) or (e is None and k == key) for k, e in unknown_keys
        ):
            continue
        a = by_key[key][i]
        if any(
            a.revision < r <= rr and any(in_range(key, k, e) for k, e in ranges) for r, ranges in deleters
        ):
            continue
        seen = _Seen(key, None, 0, rr, op.member or "?", f"op {op.id}", op.id)
        stale.setdefault((seen.member, a.revision), (a, seen))

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
        out.append(
            Anomaly(
                "lost-write",
                msg,
                [a.op] + ([s.op] if s.op is not None else []),
                members=[member],
                details=details,
            )
        )
    reported = {(a.op, m) for (m, _), (a, _) in stale.items()}
    for member, pairs in sorted(shifted.items()):
        pairs.sort(key=lambda x: x[0].revision)
        first_a, first_s = pairs[0]
        shift = first_s.mod_revision - first_a.revision
        below = [r for r in correct[member] if r < first_a.revision]
        good = max(below) if below else 1
        lost = [a for a in acked if good < a.revision < first_a.revision and a.value is not None]
        lost = sorted({a.op: a for a in lost}.values(), key=lambda a: a.revision)
        if lost and shift < 0 and len(lost) <= -shift:
            names = "; ".join(f"op {a.op} ({a.key}={a.value}@{a.revision})" for a in lost)
            msg = (
                f"member {member} lost acknowledged write {names}: later writes are shifted by {shift} there"
            )
        else:
            names = "; ".join(f"op {a.op}@{a.revision}" for a in lost[:5])
            owner = [a.op for a in acked if a.revision == first_s.mod_revision]
            if names:
                msg = f"member {member} shows acknowledged writes at shifted revisions (candidates for the lost write: {names})"
            else:
                clash = f", the revision of acknowledged op {owner[0]}" if owner else ""
                msg = f"member {member} shows acknowledged op {first_a.op} at revision {first_s.mod_revision}{clash}"
        if any((a.op, member) in reported for a in lost):
            continue
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
