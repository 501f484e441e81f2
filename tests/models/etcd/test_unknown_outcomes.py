"""Every check reasons soundly about requests of unknown outcome.

A request whose outcome is unknown (a timeout, a member killed under it) may have taken
effect at any time after its call, or never; so may a lease expiry and a compaction a
fault made through the API. Each case below is a history that such a request explains:
it must pass. Its bad twin, where nothing explains what was seen, must still be caught.
Each good history raised a false alarm before the fix it is named for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.history.jsonl import read_history
from models.etcd import check_history
from models.history import FaultRecord, History, StatusRecord
from tests.common.builders import H, kv, sequential
from tests.common.shared import SHARED

S = 1_000_000_000


base = sequential


def watch_cancel_by_unknown_compaction(bad: bool) -> tuple[History, str]:
    """The compaction to 3 went to a member killed under it: it may have been applied,
    so a watch from 2 canceled as compacted at 3 is fine (../shared/regressions)."""
    h = base()
    h.op({"kind": "compact", "revision": 2}, {"header": {"revision": 4}}, 61, 62)
    if not bad:
        h.op({"kind": "compact", "revision": 3}, None, 63, 70, status="unknown")
    h.watch(0, [("canceled", 3)], start=2)
    return h.history(), "watch-bad-start"


def watch_from_current_lags_behind_compaction(bad: bool) -> tuple[History, str]:
    """A watch from the current revision (created at 2) that lags behind is canceled like
    any other watcher once a compaction passes its next revision; created at 4 it could
    not have been (its next revision 5 is above the compaction at 4)."""
    h = base()
    h.op({"kind": "compact", "revision": 4}, {"header": {"revision": 4}}, 61, 62)
    h.watch(0, [("created", 4 if bad else 2), ("canceled", 4)], start=0)
    return h.history(), "watch-bad-start"


def compaction_by_fault(bad: bool) -> tuple[History, str]:
    """A compact fault compacts through the API without an operation of its own."""
    h = base()
    h.op({"kind": "range", "key": "a", "revision": 2}, {"error": "compacted"}, 70, 80)
    hist = h.history()
    if not bad:
        detail = {"revision": 3, "target": "random"}
        hist.faults += [
            FaultRecord(id=1, phase="start", kind="compact", time=61, targets=["m1"], detail=detail),
            FaultRecord(id=1, phase="end", kind="compact", time=63, targets=["m1"], detail=detail),
        ]
    return hist, "non-linearizable"


def compaction_by_a_crash_timed_to_it(bad: bool) -> tuple[History, str]:
    """A crash timed to a compaction request: the compaction may have been applied before
    the kill (and is re-run on restart), like any compaction of unknown outcome."""
    h = base()
    h.op({"kind": "range", "key": "a", "revision": 2}, {"error": "compacted"}, 70, 80)
    hist = h.history()
    if not bad:
        detail = {"request": "compact", "compact_revision": 3, "after_ms": 12.0}
        hist.faults += [
            FaultRecord(id=1, phase="start", kind="crash-during", time=61, targets=["m1"], detail=detail),
            FaultRecord(id=1, phase="end", kind="crash-during", time=65, targets=["m1"], detail=detail),
        ]
    return hist, "non-linearizable"


def retried_put_of_the_same_value(bad: bool) -> tuple[History, str]:
    """A put of a=v timed out and was applied at 2; its retry was acknowledged at 3. A
    member showing a=v at mod_revision 2 saw the first attempt, not a lost write."""
    h = H()
    if not bad:
        h.put("a", "v", 0, 1, None, status="unknown")
    h.put("a", "v", 3, 10, 20)
    h.get("a", 2, [kv("a", "v", 2)], 5, 25, serializable=True, member="m2")
    return h.history(), "lost-write"


def key_gone_with_its_expired_lease(bad: bool) -> tuple[History, str]:
    """Under a 1 s lease, a is deleted by the lease's expiry (revision 3) before a read at
    revision 3 seven seconds later; under a 600 s lease nothing can have deleted it."""
    h = H()
    ttl = 600 if bad else 1
    h.op({"kind": "lease_grant", "id": 5, "ttl": ttl}, {"header": {"revision": 1}, "id": 5, "ttl": ttl}, 1, 2)
    h.put("a", "1", 2, 3, 4, lease=5)
    h.get("a", 3, [], 8 * S, 8 * S + 10, count=0)
    return h.history(), "lost-write"


def _gone_under_lease(asked: int, granted: int, absent_at: int) -> History:
    """Key a put under a lease, read absent at ``absent_at``; the history goes on to 10 s."""
    h = H()
    grant = {"header": {"revision": 1}, "id": 5, "ttl": granted}
    h.op({"kind": "lease_grant", "id": 5, "ttl": asked}, grant, 1, 2)
    h.put("a", "1", 2, 3, 4, lease=5)
    h.get("a", 3, [], absent_at, absent_at + 10, count=0)
    h.put("b", "1", 4, 10 * S, 10 * S + 10)
    return h.history()


def key_gone_once_its_lease_may_have_expired(bad: bool) -> tuple[History, str]:
    """A key under a 5 s lease may vanish by expiry 5 s after the grant was called, not
    sooner: read absent at 2 s nothing explains it."""
    return _gone_under_lease(5, 5, 2 * S if bad else 6 * S), "non-linearizable"


def key_gone_once_its_raised_ttl_may_have_run_out(bad: bool) -> tuple[History, str]:
    """etcd raised the 1 s TTL asked for to its 3 s minimum: only the granted TTL counts."""
    return _gone_under_lease(1, 3, 2 * S if bad else 4 * S), "non-linearizable"


def key_served_after_its_lease_revoke_was_acknowledged(bad: bool) -> tuple[History, str]:
    """An acknowledged revoke is a definite write: the lease's keys are gone from then on."""
    h = H()
    h.op({"kind": "lease_grant", "id": 5, "ttl": 5}, {"header": {"revision": 1}, "id": 5, "ttl": 5}, 1, 2)
    h.put("a", "1", 2, 3, 4, lease=5)
    h.op({"kind": "lease_revoke", "id": 5}, {"header": {"revision": 3}}, 10, 20)
    h.get("a", 3, [kv("a", "1", 2, lease=5)] if bad else [], 30, 40, count=1 if bad else 0)
    return h.history(), "non-linearizable"


def put_under_lease_revoke_of_unknown_outcome(bad: bool) -> tuple[History, str]:
    """Revision 3 is filled by a write of unknown outcome: the revoke of lease 5 or the
    put of x. The search may try the revoke first; a put under lease 5 at 4 then only
    contradicts that choice, not every order. Acknowledged at 3, the revoke is certain."""
    h = H()
    h.op({"kind": "lease_grant", "id": 5, "ttl": 600}, {"header": {"revision": 1}, "id": 5, "ttl": 600}, 1, 2)
    h.put("k1", "1", 2, 3, 4, lease=5)
    if bad:
        h.op({"kind": "lease_revoke", "id": 5}, {"header": {"revision": 3}}, 30, 35)
    else:
        h.op({"kind": "lease_revoke", "id": 5}, None, 30, None, status="unknown")
        h.put("x", "1", 0, 31, None, status="unknown")
    h.put("k2", "1", 4, 40, 50, lease=5)
    return h.history(), "non-linearizable"


def _final(h: H, samples: list[tuple[str, int, int]], twice: bool = True) -> None:
    for t in (100, 200) if twice else (100,):
        for m, index, rev in samples:
            h.statuses.append(StatusRecord(time=t, member=m, revision=rev, raft_applied_index=index))


def member_behind_after_traffic(bad: bool) -> tuple[History, str]:
    """A member that has applied less of the log is behind, not diverged (a write of
    unknown outcome may be applied after the last response); one that has applied as
    much but is at a lower revision lost something."""
    h = base()
    h.put("c", "1", 5, 70, None, status="unknown")
    _final(h, [("m1", 12, 5), ("m2", 12, 5), ("m3", 12 if bad else 11, 4)])
    return h.history(), "divergence"


def status_racing_a_late_apply(bad: bool) -> tuple[History, str]:
    """Status reads the revision before the applied index: a single sample taken while
    a late write applies pairs the old revision with the new index. Only two equal
    samples in a row are compared."""
    h = base()
    h.put("c", "1", 5, 70, None, status="unknown")
    _final(h, [("m1", 12, 5), ("m2", 12, 5)])
    h.statuses.append(StatusRecord(time=100, member="m3", revision=4, raft_applied_index=12 if bad else 11))
    h.statuses.append(StatusRecord(time=200, member="m3", revision=4, raft_applied_index=12))
    return h.history(), "divergence"


def serializable_txn(bad: bool) -> tuple[History, str]:
    """A txn of serializable ranges only is answered from the member's own store, like a
    serializable range: stale is allowed, a state that never was is not."""
    h = base()
    txn = {
        "kind": "txn",
        "compare": [{"key": "a", "target": "version", "result": ">", "value": 0}],
        "success": [{"kind": "range", "key": "a", "serializable": True}],
        "failure": [],
    }
    value = "2" if bad else "1"
    out = {
        "header": {"revision": 3},
        "succeeded": True,
        "responses": [{"kind": "range", "kvs": [kv("a", value, 2)], "more": False, "count": 1}],
    }
    h.op(txn, out, 70, 80, member="m2")
    return h.history(), "stale-read"


CASES: list[Callable[[bool], tuple[History, str]]] = [
    watch_cancel_by_unknown_compaction,
    watch_from_current_lags_behind_compaction,
    compaction_by_fault,
    compaction_by_a_crash_timed_to_it,
    retried_put_of_the_same_value,
    key_gone_with_its_expired_lease,
    key_gone_once_its_lease_may_have_expired,
    key_gone_once_its_raised_ttl_may_have_run_out,
    key_served_after_its_lease_revoke_was_acknowledged,
    put_under_lease_revoke_of_unknown_outcome,
    member_behind_after_traffic,
    status_racing_a_late_apply,
    serializable_txn,
]


@pytest.mark.parametrize("make", CASES, ids=[m.__name__ for m in CASES])
def test_what_an_unknown_outcome_explains_passes(make: Callable[[bool], tuple[History, str]]) -> None:
    hist, _ = make(False)
    v = check_history(hist)
    assert v.verdict == "ok", v.summary()


@pytest.mark.parametrize("make", CASES, ids=[m.__name__ for m in CASES])
def test_what_nothing_explains_is_caught(make: Callable[[bool], tuple[History, str]]) -> None:
    hist, kind = make(True)
    v = check_history(hist)
    assert v.verdict == "illegal" and kind in v.kinds(), v.summary()


def test_saved_false_alarm_watch_bad_start_checks_ok() -> None:
    path = SHARED / "regressions" / "false-alarm-watch-bad-start.jsonl.xz"
    if not path.exists():
        pytest.skip("../shared/regressions is not beside the project")
    v = check_history(read_history(str(path)))
    assert v.verdict == "ok", v.summary()


def shared_regressions() -> list[tuple[Path, str]]:
    """Every history in ../shared/regressions with the verdict its README names for it
    ("`name` (...): must be **ok**")."""
    folder = SHARED / "regressions"
    readme = SHARED / "README.md"
    if not folder.exists() or not readme.exists():
        return []
    lines = readme.read_text().splitlines()
    out = []
    for path in sorted(folder.iterdir()):
        line = next((ln for ln in lines if f"`{path.name}`" in ln and "must be **" in ln), None)
        if line is not None:
            out.append((path, line.split("must be **", 1)[1].split("**", 1)[0]))
    return out


@pytest.mark.parametrize(("path", "verdict"), shared_regressions(), ids=lambda x: getattr(x, "name", x))
def test_shared_regression_gets_its_verdict(path: Path, verdict: str) -> None:
    v = check_history(read_history(str(path)))
    assert v.verdict == {"ok": "ok", "illegal": "illegal", "not linearizable": "illegal"}.get(
        verdict, verdict
    )
