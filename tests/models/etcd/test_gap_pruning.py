"""The revision checker places unknown writes by what later responses show.

Each history has a run of revisions that only unknown puts explain (as after a crash
with requests in flight), a put that is tried too early in call order (a decoy that
never applied, or a put that belongs later in the run), and one response after the run
that rules it out. Without the rule the mistake only shows after the run, so the search
permutes every gap of it first: with a small step budget that ends `unknown` (all four
did before the rules). Each rule must decide these histories within the budget without
backtracking, and a variant that no order explains must still fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from models.etcd.observations import Observations
from models.etcd.revisions import check_revisions
from tests.common.builders import H, kv

GAPS = 6
BUDGET = 2_000
FIRST = 3  # revision 2 writes k


def _run(h: H, gaps: int) -> None:
    """Revision 2: k=v0. Then ``gaps`` unknown puts to fresh keys, and the decoy k=decoy."""
    h.put("k", "v0", 2, call=10, ret=20)
    h.put("k", "decoy", 0, call=30, ret=None, status="unknown")
    for i in range(gaps):
        h.put(f"x{i}", f"w{i}", 0, call=40 + i, ret=None, status="unknown")


def prev_kv(ok: bool, gaps: int = GAPS) -> H:
    """A put after the run whose prev_kv shows k unchanged since revision 2."""
    h = H()
    _run(h, gaps)
    prev = kv("k", "v0", 2) if ok else kv("k", "v0", 2, version=2)
    h.put("k", "v1", FIRST + gaps, call=100, ret=110, prev=prev)
    return h


def txn_read(ok: bool, gaps: int = GAPS) -> H:
    """An optimistic update after the run that lost its compare and read k instead."""
    h = H()
    _run(h, gaps)
    seen = kv("k", "v0", 2) if ok else kv("k", "decoy", 2)
    h.op(
        {
            "kind": "txn",
            "compare": [{"key": "k", "target": "mod", "result": "=", "value": 1}],
            "success": [{"kind": "put", "key": "k", "value": "v9"}],
            "failure": [{"kind": "range", "key": "k"}],
        },
        {
            "header": {"revision": FIRST + gaps - 1},
            "succeeded": False,
            "responses": [{"kind": "range", "kvs": [seen], "more": False, "count": 1}],
        },
        100,
        110,
    )
    return h


def version(ok: bool, gaps: int = GAPS) -> H:
    """The last put of the run is k=v1 and a read shows it at version 2: no other put to
    k fits before it, though nothing shows k's mod_revision before that."""
    h = H()
    _run(h, gaps)
    h.put("k", "v1", 0, call=50, ret=None, status="unknown")
    last = FIRST + gaps
    h.get("k", last, [kv("k", "v1", last, create=2, version=2 if ok else 4)], call=100, ret=110)
    return h


def created(ok: bool, gaps: int = GAPS) -> H:
    """A read shows key y created in the middle of the run: that gap's writer put y."""
    h = H()
    _run(h, gaps)
    mid = FIRST + gaps // 2
    h.put("y", "y0", 0, call=60, ret=None, status="unknown")
    h.put("y", "y1", 0, call=70, ret=None, status="unknown")
    last = FIRST + gaps
    seen = kv("y", "y1", last, create=mid, version=2) if ok else kv("y", "y1", last, create=2, version=2)
    h.get("y", last, [seen], call=100, ret=110)
    return h


CASES: dict[str, Callable[[bool, int], H]] = {
    "prev_kv": prev_kv,
    "txn-read": txn_read,
    "version": version,
    "created": created,
}


def _check(h: H, budget: int | None = BUDGET) -> Any:
    ops = h.history().operations()
    return check_revisions(ops, Observations.of(ops, ()), budget=budget)


@pytest.mark.parametrize("name", sorted(CASES))
def test_decoy_is_ruled_out_at_the_gap(name: str) -> None:
    res = _check(CASES[name](True, GAPS))
    assert res.verdict == "ok", res.stats
    assert res.stats["backtracks"] == 0
    assert res.stats["gaps_filled"] >= GAPS


@pytest.mark.parametrize("name", sorted(CASES))
def test_variant_no_order_explains_still_fails(name: str) -> None:
    # Proving that no order fits means trying them all: a short run, no budget.
    res = _check(CASES[name](False, 3), budget=None)
    assert res.verdict == "illegal", res.stats


def expired_after_traffic(ok: bool, leases: int = 8, expired: int = 6) -> H:
    """Leases 1..``leases`` each hold one key; after the last write, ``expired`` of them
    expire (revisions nothing reads) and a final read shows which keys went, and an unknown
    put called earlier never applied. Every order of the expiries explains the final read:
    only one is tried. ``ok`` False: the final read shows the key without a lease gone,
    which no expiry can have deleted."""
    h = H()
    rev = 1
    for i in range(1, leases + 1):
        h.op(
            {"kind": "lease_grant", "id": i, "ttl": 1},
            {"header": {"revision": rev}, "id": i, "ttl": 1},
            i,
            i + 1,
        )
    for i in range(1, leases + 1):
        rev += 1
        h.put(f"k{i}", "v", rev, call=100 + i, ret=101 + i, lease=i)
    rev += 1
    h.put("free", "v", rev, call=200, ret=201)
    h.put("decoy", "d", 0, call=202, ret=None, status="unknown")
    kept = [kv(f"k{i}", "v", 1 + i, lease=i) for i in range(expired + 1, leases + 1)]
    if ok:
        kept.insert(0, kv("free", "v", leases + 2))
    final = rev + expired
    h.get("a", final, kept, 10 * S, 10 * S + 10, end="z", count=len(kept))
    return h


S = 1_000_000_000


def test_expiries_nothing_saw_are_placed_in_one_order() -> None:
    hist = expired_after_traffic(True).history()
    from models.etcd import check_history

    v = check_history(hist)
    assert v.verdict == "ok", v.summary()
    assert v.stats["backtracks"] <= 2 and v.stats["steps"] < BUDGET


def test_a_final_read_no_expiries_explain_still_fails() -> None:
    from models.etcd import check_history

    v = check_history(expired_after_traffic(False, leases=5, expired=3).history())
    assert v.verdict == "illegal", v.summary()


def revoked_in_any_order(leases: int = 6) -> H:
    """Leases 1..``leases`` each hold one key; revokes of unknown outcome take them in
    revisions that a read each observes (so every order must be tried), then a key
    appears that no write can have put (the one unknown put left writes another). Every order of the revokes leaves the same state
    before that gap: once one order failed there, the others must fail at once rather
    than replay (``leases``! orders)."""
    h = H()
    for i in range(1, leases + 1):
        h.op(
            {"kind": "lease_grant", "id": i, "ttl": 600},
            {"header": {"revision": 1}, "id": i, "ttl": 600},
            i,
            i + 1,
        )
    h.put("free", "v", 2, call=50, ret=51)
    for i in range(1, leases + 1):
        h.put(f"k{i}", "v", 2 + i, call=100 + i, ret=101 + i, lease=i)
    for i in range(1, leases + 1):
        h.op({"kind": "lease_revoke", "id": i}, None, 200 + i, None, status="unknown")
    last = 2 + leases
    for j in range(1, leases + 1):
        h.get("free", last + j, [kv("free", "v", 2)], call=300 + 10 * j, ret=305 + 10 * j)
    ghost = last + leases + 1
    h.put("other", "o", 0, call=400, ret=None, status="unknown")
    h.get("ghost", ghost, [kv("ghost", "g", ghost)], call=500, ret=510)
    return h


def test_a_gap_whose_every_continuation_failed_is_not_replayed_again() -> None:
    """7 revokes: the search without the memo took 46,146 steps (every order), with it
    2,260 (every subset)."""
    res = _check(revoked_in_any_order(7), budget=5_000)
    assert res.verdict == "illegal", res.stats
