"""TimeToLive answers: the leader's lessor may lag what was committed by a couple of
seconds, never more. Each case is a history etcd could produce and one it could not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from models.etcd import check_history
from models.etcd.revisions.lease_lookups import STALE_S
from models.history import History
from tests.common.builders import H

S = 1_000_000_000
LATE = int((STALE_S + 2) * S)


def _hdr(rev: int) -> dict[str, Any]:
    return {"revision": rev, "raft_term": 2}


def _leased(keys: tuple[str, ...] = ("a",)) -> H:
    """Lease 5 (600 s) granted at 1-2 ns; a put under it of each key, at revision 2, 3..."""
    h = H()
    h.op({"kind": "lease_grant", "id": 5, "ttl": 600}, {"header": _hdr(1), "id": 5, "ttl": 600}, 1, 2)
    for i, k in enumerate(keys):
        h.op(
            {"kind": "put", "key": k, "value": "1", "lease": 5}, {"header": _hdr(2 + i)}, 3 + 2 * i, 4 + 2 * i
        )
    return h


def _lookup(h: H, at: int, keys: list[str] | None, rev: int = 2) -> None:
    """A TimeToLive with keys at ``at``: found with ``keys``, or not found (None)."""
    out: dict[str, Any] = {"error": "lease_not_found"}
    if keys is not None:
        out = {"header": _hdr(rev), "id": 5, "ttl": 590, "granted_ttl": 600, "keys": keys}
    h.op({"kind": "lease_timetolive", "id": 5, "keys": True}, out, at, at + 1000)


def not_found_while_it_lives(bad: bool) -> History:
    """Right after the grant the leader may not have applied it yet; seconds later it has."""
    h = _leased()
    _lookup(h, LATE if bad else 100, None)
    return h.history()


def not_found_after_a_revoke(bad: bool) -> History:
    """A revoke called before the lookup returned explains a lease not found (good); one
    called after it does not (bad)."""
    h = _leased()
    if not bad:
        h.op({"kind": "lease_revoke", "id": 5}, {"header": _hdr(3)}, LATE - 10, LATE + 10)
    _lookup(h, LATE, None)
    if bad:
        h.op({"kind": "lease_revoke", "id": 5}, {"header": _hdr(3)}, LATE + 2000, LATE + 3000)
    return h.history()


def found_after_its_revoke(bad: bool) -> History:
    """Found just after the revoke was acknowledged, the leader may lag (good); found
    seconds later, the lease outlived its revoke (bad)."""
    h = _leased()
    h.op({"kind": "lease_revoke", "id": 5}, {"header": _hdr(3)}, 10, 20)
    _lookup(h, LATE if bad else 30, ["a"], rev=3)
    return h.history()


def lists_a_key_nobody_attached(bad: bool) -> History:
    h = _leased(("a", "b"))
    _lookup(h, LATE, ["a", "b", "c"] if bad else ["a", "b"], rev=3)
    return h.history()


def leaves_out_an_attached_key(bad: bool) -> History:
    """Key b attached long before and never written since must be listed (bad when
    missing); a put of b without the lease detached it (good)."""
    h = _leased(("a", "b"))
    if not bad:
        h.op({"kind": "put", "key": "b", "value": "2"}, {"header": _hdr(4)}, 10, 20)
    _lookup(h, LATE, ["a"], rev=4 if not bad else 3)
    return h.history()


def leaves_out_a_key_deleted_by_a_range(bad: bool) -> History:
    """A range delete over the key detached it, even of unknown outcome."""
    h = _leased(("a", "b"))
    if not bad:
        h.op({"kind": "delete", "key": "a", "range_end": "c"}, None, 10, None, status="unknown")
    _lookup(h, LATE, [] if not bad else ["b"], rev=3)
    return h.history()


CASES: list[Callable[[bool], History]] = [
    not_found_while_it_lives,
    not_found_after_a_revoke,
    found_after_its_revoke,
    lists_a_key_nobody_attached,
    leaves_out_an_attached_key,
    leaves_out_a_key_deleted_by_a_range,
]
IDS = [make.__name__ for make in CASES]


@pytest.mark.parametrize("make", CASES, ids=IDS)
def test_an_answer_etcd_may_give_passes(make: Callable[[bool], History]) -> None:
    v = check_history(make(False))
    assert v.verdict == "ok", v.summary()


@pytest.mark.parametrize("make", CASES, ids=IDS)
def test_an_answer_etcd_may_not_give_is_caught(make: Callable[[bool], History]) -> None:
    v = check_history(make(True))
    assert v.verdict == "illegal" and "non-linearizable" in v.kinds(), v.summary()


def test_a_lookup_long_after_expiry_overlived_the_lease() -> None:
    """A 2 s lease the same leader still holds long after it must have expired."""
    from models.etcd.lease_lifetime import SLACK_S

    h = H()
    h.op({"kind": "lease_grant", "id": 5, "ttl": 2}, {"header": _hdr(1), "id": 5, "ttl": 2}, 1, 2)
    _lookup(h, int((2 + SLACK_S + 2) * S), [], rev=1)
    v = check_history(h.history())
    assert v.verdict == "illegal" and "lease-overlived" in v.kinds(), v.summary()
    assert "found lease 5 still held" in next(a.message for a in v.anomalies if a.kind == "lease-overlived")
