"""Whether etcd's answers to the test user of an ``--auth`` run respect its permissions
while the auth faults revoke and grant them (``permission-ignored``, ``permission-denied``).

etcd applies an auth change in raft order, checks a write's permission when it applies
the write, and a linearizable read's after its read index, on the auth state of that
point in the log. So an auth change that returned before a request was sent is in
force for it, and one sent after the request returned is not. The check is one-sided
in real time, with no model of the auth store: a request is held to its permission only
when every change that could flip it is on one side of the request, and otherwise left
alone. Serializable reads (answered from a member's possibly stale state) and lease
requests (whose permission depends on the keys attached to the lease) are not held,
and a write carrying a lease is not held to being permitted (etcd also checks the
lease's other keys). Response headers carry no auth revision in 3.4 and 3.5, so the
history's times are what orders changes and requests.

The run records its permission layout in the header (``cluster.auth``: the churn range
the faults toggle and the fixed ranges the role always holds) and each change in its
fault's detail (``changes``: what, call and return time).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from models.anomaly import Anomaly
from models.etcd.requests import is_serializable_read, sub_requests
from models.history import FaultRecord, OpRecord

#: The changes that turn each switch off and on; both start on.
SWITCHES = {"churn": ("revoke", "grant"), "user": ("delete-user", "add-user")}
CHECKED_KINDS = frozenset({"range", "put", "delete", "txn"})
NEVER = -(1 << 62)

Interval = tuple[str, str | None]  # [start, end); None: no end


@dataclass(frozen=True)
class Change:
    switch: str
    on: bool
    call: int
    ret: int | None


def changes_of(faults: Sequence[FaultRecord]) -> list[Change]:
    seen: dict[tuple[int, int], Change] = {}
    kinds = {k: (s, i == 1) for s, pair in SWITCHES.items() for i, k in enumerate(pair)}
    for f in faults:
        for i, c in enumerate(f.detail.get("changes") or ()):
            if not isinstance(c, dict) or c.get("change") not in kinds:
                continue
            switch, on = kinds[c["change"]]
            ret = c.get("return")
            seen[(f.id, i)] = Change(switch, on, int(c["call"]), None if ret is None else int(ret))
    return list(seen.values())


def surely(changes: Sequence[Change], switch: str, on: bool, call: int, ret: int) -> bool:
    """Whether ``switch`` is surely ``on`` (or surely off) all through [call, ret]: a
    change to that state took effect before ``call`` and every opposite change either
    took effect before it or was sent after ``ret``."""
    mine = [c for c in changes if c.switch == switch]
    opposite = [c for c in mine if c.on != on]
    anchors = [c.call for c in mine if c.on == on and c.ret is not None and c.ret <= call]
    if on:
        anchors.append(NEVER)
    return any(
        all((x.ret is not None and x.ret < anchor) or x.call > ret for x in opposite) for anchor in anchors
    )


def _end(key: str, range_end: Any) -> str | None:
    if not range_end:
        return key + "\x00"
    return None if range_end == "\x00" else str(range_end)


def intervals(req: dict[str, Any]) -> Iterator[Interval]:
    kind = req.get("kind")
    if kind in ("range", "delete"):
        yield str(req["key"]), _end(str(req["key"]), req.get("range_end"))
    elif kind == "put":
        yield str(req["key"]), str(req["key"]) + "\x00"
    elif kind == "txn":
        for cmp in req.get("compare") or ():
            yield str(cmp["key"]), _end(str(cmp["key"]), cmp.get("range_end"))
        for sub in sub_requests(req):
            yield from intervals(sub)


def _carries_lease(req: dict[str, Any]) -> bool:
    if req.get("kind") == "put":
        return bool(req.get("lease"))
    return any(_carries_lease(s) for s in sub_requests(req))


def _within(iv: Interval, lo: str, hi: str) -> bool:
    return lo <= iv[0] and iv[1] is not None and iv[1] <= hi


@dataclass(frozen=True)
class Layout:
    user: str
    churn: tuple[str, str]
    fixed: tuple[tuple[str, str], ...]

    @staticmethod
    def of(raw: Any) -> Layout | None:
        try:
            churn = (str(raw["churn"][0]), str(raw["churn"][1]))
            fixed = tuple((str(a), str(b)) for a, b in raw["fixed"])
            return Layout(str(raw.get("user") or "the test user"), churn, fixed)
        except (TypeError, KeyError, IndexError, ValueError):
            return None

    def classify(self, req: dict[str, Any]) -> str | None:
        """``fixed`` (only keys the role always holds), ``churn`` (some key of the churn
        range, the rest held), or None (keys never permitted, or not a checked request)."""
        if req.get("kind") not in CHECKED_KINDS or is_serializable_read(req):
            return None
        ivs = list(intervals(req))
        if not ivs:
            return None
        if all(any(_within(iv, lo, hi) for lo, hi in self.fixed) for iv in ivs):
            return "fixed"
        lo, hi = min(a for a, _ in self.fixed), max(b for _, b in self.fixed)
        if all(_within(iv, min(lo, self.churn[0]), max(hi, self.churn[1])) for iv in ivs):
            return "churn"
        return None


def check_permissions(
    layout_raw: Any, faults: Sequence[FaultRecord], records: Sequence[OpRecord]
) -> list[Anomaly]:
    """Anomalies of the test user's answers against its permissions; nothing when the
    run had no authentication."""
    layout = Layout.of(layout_raw) if layout_raw else None
    if layout is None:
        return []
    changes = changes_of(faults)
    out: list[Anomaly] = []
    for rec in records:
        if rec.ret is None or rec.status == "unknown":
            continue
        scope = layout.classify(rec.input)
        if scope is None:
            continue
        denied = rec.status == "fail" and rec.error is not None and rec.error.code == "PERMISSION_DENIED"
        if rec.status == "ok" and _forbidden(changes, scope, rec.call, rec.ret):
            out.append(_anomaly("permission-ignored", rec, layout, scope))
        elif denied and not _carries_lease(rec.input) and _permitted(changes, scope, rec.call, rec.ret):
            out.append(_anomaly("permission-denied", rec, layout, scope))
    return out


def _forbidden(changes: Sequence[Change], scope: str, call: int, ret: int) -> bool:
    if surely(changes, "user", False, call, ret):
        return True
    return scope == "churn" and surely(changes, "churn", False, call, ret)


def _permitted(changes: Sequence[Change], scope: str, call: int, ret: int) -> bool:
    if not surely(changes, "user", True, call, ret):
        return False
    return scope == "fixed" or surely(changes, "churn", True, call, ret)


def _anomaly(kind: str, rec: OpRecord, layout: Layout, scope: str) -> Anomaly:
    what = f"the churn range [{layout.churn[0]!r}, {layout.churn[1]!r})" if scope == "churn" else "its keys"
    if kind == "permission-ignored":
        message = (
            f"op {rec.id} ({rec.input.get('kind')} {rec.input.get('key')!r}) was served to {layout.user} "
            f"although its permission on {what} (or the user) had been taken away before it was sent "
            "and not given back before it returned"
        )
    else:
        message = (
            f"op {rec.id} ({rec.input.get('kind')} {rec.input.get('key')!r}) was refused with "
            f"PERMISSION_DENIED although {layout.user} held permission on {what} from before it was "
            "sent until after it returned"
        )
    return Anomaly(
        kind, message, ops=[rec.id], members=[rec.member] if rec.member else [], details={"scope": scope}
    )
