"""Step 5b, compaction: it does not move the revision either, so it is checked on the placement.

A compaction beyond the current revision, two that both succeeded in an order that
makes the second impossible, a read at a revision a compaction finished removing, and a
``compacted`` error that no compaction (acknowledged or of unknown outcome) called
before it explains. One-sided, never stricter than etcd.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.anomaly import Anomaly
from models.etcd.revisions.claims import Claims
from models.operation import Operation


def check_compaction(ops: Sequence[Operation], claims: Claims) -> list[Anomaly]:
    compacts = [(r, op) for r, op in claims.time_only if op.input.get("kind") == "compact"]
    any_compacts = [op for op in ops if op.input.get("kind") == "compact" and op.status != "fail"]
    out = _beyond_current(compacts) + _out_of_order(compacts)
    if compacts:
        out += _reads_below(compacts, claims.observers)
    out += _compacted_errors(claims.errors, any_compacts)
    return out


def _beyond_current(compacts: list[tuple[int, Operation]]) -> list[Anomaly]:
    out: list[Anomaly] = []
    for r, op in compacts:
        c = int(op.input["revision"])
        if c > r:
            out.append(
                Anomaly(
                    "non-linearizable",
                    f"op {op.id} compacted at {c}, beyond the current revision {r}",
                    [op.id],
                )
            )
    return out


def _out_of_order(compacts: list[tuple[int, Operation]]) -> list[Anomaly]:
    """A compaction's header revision is the member's revision when it answered, not the
    one it was applied at (etcd sets it to kv.Rev() after the apply), so two
    compactions are ordered by real time only."""
    out: list[Anomaly] = []
    for i, (_ra, a) in enumerate(compacts):
        for _rb, b in compacts[i + 1 :]:
            ca, cb = int(a.input["revision"]), int(b.input["revision"])
            if (
                ca == cb
                or (ca > cb and a.effective_return < b.call)
                or (cb > ca and b.effective_return < a.call)
            ):
                out.append(
                    Anomaly(
                        "non-linearizable",
                        f"compactions {a.id} (at {ca}) and {b.id} (at {cb}) both succeeded in this order",
                        [a.id, b.id],
                    )
                )
    return out


def _reads_below(
    compacts: list[tuple[int, Operation]], observers: dict[int, list[Operation]]
) -> list[Anomaly]:
    """A read at a revision that a compaction finished before it must have failed."""
    out: list[Anomaly] = []
    for r, lst in observers.items():
        for op in lst:
            rr = int(op.input.get("revision") or 0) if op.input.get("kind") == "range" else 0
            if rr <= 0:
                continue
            for rc, cop in compacts:
                c = int(cop.input["revision"])
                if c > rr and (rc < r or cop.effective_return < op.call):
                    out.append(
                        Anomaly(
                            "non-linearizable",
                            f"op {op.id} read revision {rr} after op {cop.id} compacted at {c}: it must have failed 'compacted'",
                            [op.id, cop.id],
                        )
                    )
                    break
    return out


def _compacted_errors(errors: list[Operation], any_compacts: list[Operation]) -> list[Anomaly]:
    """A ``compacted`` error needs a compaction past its revision that may have come first."""
    out: list[Anomaly] = []
    for op in errors:
        if op.output.get("error") != "compacted":
            continue
        kind = op.input.get("kind")
        if kind not in ("range", "compact"):
            continue
        rr = int(op.input.get("revision") or 0)
        ok = any(
            c.id != op.id
            and (int(c.input["revision"]) > rr or (kind == "compact" and int(c.input["revision"]) >= rr))
            and c.call < op.effective_return
            for c in any_compacts
        )
        if not ok:
            out.append(
                Anomaly(
                    "non-linearizable",
                    f"op {op.id} failed 'compacted' at revision {rr} but nothing compacted past it before",
                    [op.id],
                )
            )
    return out
