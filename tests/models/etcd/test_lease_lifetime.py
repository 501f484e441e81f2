"""Lease lifetimes: a key under a lease may vanish once the lease may have expired (no
sooner than its TTL after the last acknowledged refresh was called) and must be gone
soon after it must have expired, unless a leader change, a fault or a keepalive of
unknown outcome may have held the lease up. Each case comes as a history that etcd could
produce and one that it could not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from models.etcd import check_history
from models.etcd.lease_lifetime import SLACK_S
from models.history import FaultRecord, History
from tests.common.builders import H, kv

S = 1_000_000_000
TERM = 2


def _hdr(rev: int, term: int = TERM) -> dict[str, Any]:
    return {"revision": rev, "raft_term": term}


def _leased(ttl: int = 2) -> H:
    """Lease 5 granted at 1-2 ns in term 2; a put under it at revision 2."""
    h = H()
    h.op({"kind": "lease_grant", "id": 5, "ttl": ttl}, {"header": _hdr(1), "id": 5, "ttl": ttl}, 1, 2)
    h.op({"kind": "put", "key": "a", "value": "1", "lease": 5}, {"header": _hdr(2)}, 3, 4)
    return h


def _read_a(h: H, at: int, *, present: bool, term: int = TERM, rev: int = 2) -> None:
    kvs = [kv("a", "1", 2, lease=5)] if present else []
    out = {"header": _hdr(rev, term), "kvs": kvs, "more": False, "count": len(kvs)}
    h.op({"kind": "range", "key": "a"}, out, at, at + 1000)


def _keepalive(h: H, at: int, output: Any, status: str = "ok") -> None:
    h.op(
        {"kind": "lease_keepalive", "id": 5},
        output,
        at,
        None if status == "unknown" else at + 1000,
        status=status,
    )


def _with_fault(hist: History, start: int, end: int | None) -> History:
    hist.faults.append(FaultRecord(id=1, phase="start", kind="pause", time=start, targets=["m1"]))
    if end is not None:
        hist.faults.append(FaultRecord(id=1, phase="end", kind="pause", time=end, targets=["m1"]))
    return hist


LATE = int((2 + SLACK_S + 2) * S)


def survives_long_after_its_ttl(bad: bool) -> History:
    """Same leader throughout, no fault: still there 12 s after a 2 s lease (bad), or
    read within the slack (good)."""
    h = _leased()
    _read_a(h, LATE if bad else 4 * S, present=True)
    return h.history()


def survives_a_leader_change(bad: bool) -> History:
    """A new leader restarts the lease's clock: the read in term 3 is not held to it."""
    h = _leased()
    _read_a(h, LATE, present=True, term=TERM if bad else TERM + 1)
    return h.history()


def survives_a_fault(bad: bool) -> History:
    """A pause until 9 s may have held the leader up; the lease's clock starts over then.
    A fault over well before the read does not excuse it."""
    h = _leased()
    _read_a(h, LATE, present=True)
    end = 2 * S if bad else int(LATE - SLACK_S * S + S)
    return _with_fault(h.history(), S, end)


def survives_a_fault_still_going_on(bad: bool) -> History:
    h = _leased()
    _read_a(h, LATE, present=True)
    return _with_fault(h.history(), S, 2 * S if bad else None)


def survives_a_keepalive(bad: bool) -> History:
    """An acknowledged keepalive at 9 s renewed it (good); a failed one did not (bad)."""
    h = _leased()
    at = int(LATE - SLACK_S * S)
    if bad:
        _keepalive(h, at, {"error": "lease_not_found"})
    else:
        _keepalive(h, at, {"header": _hdr(2), "id": 5, "ttl": 2})
    _read_a(h, LATE, present=True)
    return h.history()


def survives_a_keepalive_of_unknown_outcome(bad: bool) -> History:
    h = _leased()
    if bad:
        _keepalive(h, 3 * S, None, status="fail")
    else:
        _keepalive(h, 3 * S, None, status="unknown")
    _read_a(h, LATE, present=True)
    return h.history()


def vanishes_before_a_keepalive_runs_out(bad: bool) -> History:
    """Renewed at 4 s, a 5 s lease cannot expire before 9 s: gone at 7 s (bad), at 10 s
    (good)."""
    h = _leased(ttl=5)
    _keepalive(h, 4 * S, {"header": _hdr(2), "id": 5, "ttl": 5})
    _read_a(h, 7 * S if bad else 10 * S, present=False, rev=3)
    h.op({"kind": "put", "key": "b", "value": "1", "lease": 0}, {"header": _hdr(4)}, 12 * S, 12 * S + 10)
    return h.history()


def renewed_after_its_revoke(bad: bool) -> History:
    """A keepalive 3 s after the revoke was acknowledged finds the lease gone."""
    h = _leased(ttl=600)
    h.op({"kind": "lease_revoke", "id": 5}, {"header": _hdr(3)}, S, S + 10)
    if bad:
        _keepalive(h, 4 * S, {"header": _hdr(3), "id": 5, "ttl": 600})
    else:
        _keepalive(h, 4 * S, {"error": "lease_not_found"})
    return h.history()


def not_found_while_it_lives(bad: bool) -> History:
    """A keepalive on a 600 s lease nobody revoked must find it."""
    h = _leased(ttl=600)
    if bad:
        _keepalive(h, 3 * S, {"error": "lease_not_found"})
    else:
        _keepalive(h, 3 * S, {"header": _hdr(2), "id": 5, "ttl": 600})
    return h.history()


CASES: list[tuple[Callable[[bool], History], str]] = [
    (survives_long_after_its_ttl, "lease-overlived"),
    (survives_a_leader_change, "lease-overlived"),
    (survives_a_fault, "lease-overlived"),
    (survives_a_fault_still_going_on, "lease-overlived"),
    (survives_a_keepalive, "lease-overlived"),
    (survives_a_keepalive_of_unknown_outcome, "lease-overlived"),
    (vanishes_before_a_keepalive_runs_out, "non-linearizable"),
    (renewed_after_its_revoke, "non-linearizable"),
    (not_found_while_it_lives, "non-linearizable"),
]
IDS = [make.__name__ for make, _ in CASES]


@pytest.mark.parametrize(("make", "kind"), CASES, ids=IDS)
def test_a_lifetime_etcd_allows_passes(make: Callable[[bool], History], kind: str) -> None:
    v = check_history(make(False))
    assert v.verdict == "ok", v.summary()


@pytest.mark.parametrize(("make", "kind"), CASES, ids=IDS)
def test_a_lifetime_etcd_forbids_is_caught(make: Callable[[bool], History], kind: str) -> None:
    v = check_history(make(True))
    assert v.verdict == "illegal" and kind in v.kinds(), v.summary()


def test_an_overlived_lease_names_the_lease_key_and_delay() -> None:
    v = check_history(survives_long_after_its_ttl(True))
    a = next(a for a in v.anomalies if a.kind == "lease-overlived")
    assert a.details["lease"] == 5 and a.details["key"] == "a" and a.details["late_s"] > 1
    assert a.ops == [0, 2]
