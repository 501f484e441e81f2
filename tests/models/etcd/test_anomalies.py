"""One hand-written history per anomaly kind: the bad one is caught with that kind, a
close valid variant passes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from models.etcd import check_history
from models.history import ErrorInfo, History, StatusRecord
from tests.common.builders import H, del_ev, kv, put_ev, sequential

base = sequential


def lost_write(bad: bool) -> History:
    # etcd-io/etcd#13766: m3 lost a=1@2, so b=1 (acked at 3) shows as mod_revision 2 there.
    h = base()
    if bad:
        h.get("b", 3, [kv("b", "1", 2)], 70, 80, serializable=True, member="m3")
    else:
        h.get("b", 3, [kv("b", "1", 3)], 70, 80, serializable=True, member="m3")
    return h.history()


def lost_write_stale_key(bad: bool) -> History:
    h = base()
    a = kv("a", "1", 2) if bad else kv("a", "2", 4, create=2, version=2)
    h.get("a", 4, [a], 70, 80, serializable=True, member="m2")
    return h.history()


def stale_linearizable_read(bad: bool) -> History:
    h = base()
    if bad:  # called after a=2@4 returned, still sees revision 3
        h.get("a", 3, [kv("a", "1", 2)], 70, 80)
    else:  # overlaps the write of a=2: revision 3 is still allowed
        h.get("a", 3, [kv("a", "1", 2)], 45, 80)
    return h.history()


def wrong_value(bad: bool) -> History:
    h = base()
    h.get("b", 4, [kv("b", "9" if bad else "1", 3)], 70, 80)
    return h.history()


def reordered_writes(bad: bool) -> History:
    h = H()
    h.put("a", "1", 3 if bad else 2, 10, 20)
    h.put("b", "1", 2 if bad else 3, 30, 40)
    return h.history()


def revision_reused(bad: bool) -> History:
    h = H()
    h.put("a", "1", 2, 10, 40)
    h.put("b", "1", 2 if bad else 3, 15, 35)
    return h.history()


def revision_mismatch(bad: bool) -> History:
    h = H()
    h.put("a", "1", 1 if bad else 2, 10, 40)
    return h.history()


def unexplained_gap(bad: bool) -> History:
    h = H()
    h.put("a", "1", 2, 10, 20)
    if not bad:  # an unknown write can fill revision 3
        h.put("c", "1", 0, 21, None, status="unknown")
    h.put("b", "1", 4, 30, 40)
    return h.history()


def _watch_base(bad_msgs: list, good_msgs: list, bad: bool, **kw) -> History:  # type: ignore[type-arg]
    h = base()
    h.watch(0, bad_msgs if bad else good_msgs, **kw)
    return h.history()


E2, E3, E4 = put_ev("a", "1", 2), put_ev("b", "1", 3), put_ev("a", "2", 4, create=2, version=2)


def watch_gap(bad: bool) -> History:
    return _watch_base(
        [("events", [E2]), ("events", [E4])], [("events", [E2]), ("events", [E3, E4])], bad, start=2
    )


def watch_stalled(bad: bool) -> History:
    """Open and silent through the settled end of the run, its member at revision 4 when
    the wait began: the changes at 3 and 4 are overdue. Settled at 2, nothing is."""
    return _watch_base([("events", [E2]), ("settled", 4)], [("events", [E2]), ("settled", 2)], bad, start=2)


def watch_stalled_from_the_start(bad: bool) -> History:
    """A stream that never delivered anything owes every covered change from its start."""
    return _watch_base(
        [("created", 1), ("settled", 3)], [("created", 1), ("events", [E2, E3]), ("settled", 3)], bad, start=2
    )


def watch_duplicate(bad: bool) -> History:
    return _watch_base(
        [("events", [E2]), ("events", [E2]), ("events", [E3])],
        [("events", [E2]), ("events", [E3])],
        bad,
        start=2,
    )


def watch_reorder(bad: bool) -> History:
    return _watch_base(
        [("events", [E3]), ("events", [E2])], [("events", [E2]), ("events", [E3])], bad, start=2
    )


def watch_split(bad: bool) -> History:
    h = H()
    txn = {
        "kind": "txn",
        "compare": [],
        "success": [{"kind": "put", "key": "a", "value": "1"}, {"kind": "put", "key": "b", "value": "1"}],
        "failure": [],
    }
    out = {"header": {"revision": 2}, "succeeded": True, "responses": [{"kind": "put"}, {"kind": "put"}]}
    h.op(txn, out, 10, 20)
    ea, eb = put_ev("a", "1", 2), put_ev("b", "1", 2)
    h.watch(0, [("events", [ea]), ("events", [eb])] if bad else [("events", [ea, eb])], start=2)
    return h.history()


def watch_wrong_event(bad: bool) -> History:
    wrong = put_ev("b", "1", 3, version=2)
    return _watch_base([("events", [E2, wrong])], [("events", [E2, E3])], bad, start=2)


def watch_wrong_prev_kv(bad: bool) -> History:
    good = put_ev("a", "2", 4, create=2, version=2, prev=kv("a", "1", 2))
    wrong = put_ev("a", "2", 4, create=2, version=2, prev=None)
    return _watch_base(
        [("events", [wrong])], [("events", [good])], bad, start=4, key="a", end=None, prev_kv=True
    )


def watch_prev_kv_compacted(bad: bool) -> History:
    # etcd reads prev_kv at revision 3 when it sends the event; compacted at 4 it is
    # left out (seen on 3.5.1 with kubernetes traffic), at 3 it is not.
    h = base()
    h.op({"kind": "compact", "revision": 3 if bad else 4}, {"header": {"revision": 4}}, 61, 62)
    ev = put_ev("a", "2", 4, create=2, version=2, prev=None)
    h.watch(0, [("events", [ev])], start=4, key="a", end=None, prev_kv=True)
    return h.history()


def watch_outside_range(bad: bool) -> History:
    return _watch_base([("events", [E2, E3])], [("events", [E2])], bad, start=2, key="a", end=None)


def watch_bad_start(bad: bool) -> History:
    return _watch_base([("events", [E4])], [("events", [E3, E4])], bad, start=3)


def watch_bad_start_created(bad: bool) -> History:
    # start_revision 0: created at revision 2, so the first event must be revision 3
    return _watch_base(
        [("created", 2), ("events", [E4])], [("created", 2), ("events", [E3]), ("events", [E4])], bad, start=0
    )


def watch_bad_compaction_cancel(bad: bool) -> History:
    h = base()
    h.op({"kind": "compact", "revision": 3}, {"header": {"revision": 4}}, 61, 62)
    h.watch(0, [("canceled", 3)], start=3 if bad else 2)
    return h.history()


def watch_from_compacted(bad: bool) -> History:
    # Compacted at 3 (answered at revision 4), then a watch from 2 gets events. Bad when
    # its member must have applied the compaction: it answered it. A lagging member that
    # did not answer it and created the watch at revision 3 may not have applied it yet.
    h = base()
    h.op(
        {"kind": "compact", "revision": 3}, {"header": {"revision": 4}}, 61, 62, member="m1" if bad else "m2"
    )
    h.watch(0, [("created", 4 if bad else 3), ("events", [E2]), ("events", [E3]), ("events", [E4])], start=2)
    return h.history()


def watch_progress(bad: bool) -> History:
    return _watch_base(
        [("events", [E2]), ("progress", 3), ("events", [E3])],
        [("events", [E2]), ("events", [E3]), ("progress", 3)],
        bad,
        start=2,
    )


def watch_progress_back(bad: bool) -> History:
    return _watch_base(
        [("events", [E2, E3]), ("progress", 2)], [("events", [E2, E3]), ("progress", 3)], bad, start=2
    )


def watch_delete_event(bad: bool) -> History:
    h = base()
    h.op({"kind": "delete", "key": "b"}, {"header": {"revision": 5}, "deleted": 1, "prev_kvs": []}, 70, 80)
    ev = del_ev("b", 5) if not bad else put_ev("b", "", 5)
    h.watch(0, [("events", [ev])], start=5)
    return h.history()


def stale_serializable(bad: bool) -> History:
    h = base()
    h.get("a", 3, [kv("a", "2" if bad else "1", 2)], 70, 80, serializable=True, member="m2")
    return h.history()


def serializable_from_future(bad: bool) -> History:
    h = base()
    # revision 4 (a=2) was only called at 50: a read that returned at 45 cannot be at 4
    if bad:
        h.get("a", 4, [kv("a", "2", 4, create=2, version=2)], 41, 45, serializable=True, member="m2")
    else:
        h.get("a", 4, [kv("a", "2", 4, create=2, version=2)], 41, 55, serializable=True, member="m2")
    return h.history()


def divergence_hash(bad: bool) -> History:
    h = base()
    for m, hv in (("m1", 7), ("m2", 7), ("m3", 8 if bad else 7)):
        h.statuses.append(
            StatusRecord(time=100, member=m, revision=4, hash=hv, hash_revision=4, raft_applied_index=9)
        )
    return h.history()


def divergence_hash_of_the_empty_store(bad: bool) -> History:
    """Nothing is alive at revision 3: etcd's HashKV there hashes whatever compacted
    revisions each member still has on disk, so only the hashes at 2 (a alive) count."""
    h = H()
    h.put("a", "1", 2, 10, 20)
    h.op({"kind": "delete", "key": "a"}, {"header": {"revision": 3}, "deleted": 1, "prev_kvs": []}, 30, 40)
    for m, hv in (("m1", 7), ("m2", 7), ("m3", 8)):
        h.statuses.append(
            StatusRecord(
                time=100, member=m, revision=3, hash=hv, hash_revision=2 if bad else 3, raft_applied_index=9
            )
        )
    return h.history()


def final_status(h: H, samples: list[tuple[str, int, int]]) -> None:
    """Two rounds of (member, applied index, revision) after traffic, as the runner takes."""
    for t in (100, 200):
        for m, index, rev in samples:
            h.statuses.append(StatusRecord(time=t, member=m, revision=rev, raft_applied_index=index))


def divergence_revision(bad: bool) -> History:
    h = base()
    final_status(h, [("m1", 9, 4), ("m2", 9, 4), ("m3", 9, 3 if bad else 4)])
    return h.history()


def divergence_further_along(bad: bool) -> History:
    """A member further along the log is never at a lower revision; behind, it may be."""
    h = base()
    final_status(h, [("m1", 9, 4), ("m2", 9, 4), ("m3", 10 if bad else 8, 3)])
    return h.history()


def divergence_revision_hash_failed(bad: bool) -> History:
    """As seen on 3.5.1 (etcd-io/etcd#13766): the two members ahead had compacted past the
    common revision, so their HashKV failed, yet their Status (revision, applied index)
    was read first and still shows the split."""
    h = base()
    compacted = ErrorInfo(
        code="OUT_OF_RANGE", message="etcdserver: mvcc: required revision has been compacted"
    )
    for t in (100, 200):
        for m, rev in (("m1", 4), ("m2", 4), ("m3", 3 if bad else 4)):
            h.statuses.append(
                StatusRecord(
                    time=t,
                    member=m,
                    revision=rev,
                    raft_applied_index=9,
                    error=None if m == "m3" else compacted,
                )
            )
    return h.history()


def lease_put_after_revoke(bad: bool) -> History:
    h = H()
    h.op({"kind": "lease_grant", "id": 5, "ttl": 600}, {"header": {"revision": 1}, "id": 5, "ttl": 600}, 1, 2)
    h.put("a", "1", 2, 3, 4, lease=5)
    h.op({"kind": "lease_revoke", "id": 5}, {"header": {"revision": 3}}, 5, 6)
    if bad:
        h.put("b", "1", 4, 7, 8, lease=5)
    else:
        h.op({"kind": "put", "key": "b", "value": "1", "lease": 5}, {"error": "lease_not_found"}, 7, 8)
    return h.history()


def compacted_read(bad: bool) -> History:
    h = base()
    h.op({"kind": "compact", "revision": 3}, {"header": {"revision": 4}}, 61, 62)
    if bad:
        h.get("a", 4, [kv("a", "1", 2)], 70, 80, revision=2)
    else:
        h.op({"kind": "range", "key": "a", "revision": 2}, {"error": "compacted"}, 70, 80)
    return h.history()


def compactions_out_of_order(bad: bool) -> History:
    # A compaction's header is the revision when it answered (seen on 3.5.1: compact@5904
    # answered 6106, compact@5897 answered 6108, both ok): only real time orders them.
    h = base()
    h.op({"kind": "compact", "revision": 3}, {"header": {"revision": 4}}, 61, 63)
    h.put("c", "1", 5, 64, 65)
    h.op({"kind": "compact", "revision": 2}, {"header": {"revision": 5}}, 64 if bad else 62, 70)
    return h.history()


CASES: list[tuple[str, Callable[[bool], History]]] = [
    ("lost-write", lost_write),
    ("lost-write", lost_write_stale_key),
    ("non-linearizable", stale_linearizable_read),
    ("non-linearizable", wrong_value),
    ("non-linearizable", reordered_writes),
    ("non-linearizable", unexplained_gap),
    ("non-linearizable", lease_put_after_revoke),
    ("non-linearizable", compacted_read),
    ("non-linearizable", compactions_out_of_order),
    ("revision-reused", revision_reused),
    ("revision-mismatch", revision_mismatch),
    ("watch-gap", watch_gap),
    ("watch-stalled", watch_stalled),
    ("watch-stalled", watch_stalled_from_the_start),
    ("watch-duplicate", watch_duplicate),
    ("watch-reorder", watch_reorder),
    ("watch-split-revision", watch_split),
    ("watch-wrong-event", watch_wrong_event),
    ("watch-wrong-event", watch_wrong_prev_kv),
    ("watch-wrong-event", watch_prev_kv_compacted),
    ("watch-wrong-event", watch_outside_range),
    ("watch-wrong-event", watch_delete_event),
    ("watch-bad-start", watch_bad_start),
    ("watch-bad-start", watch_bad_start_created),
    ("watch-bad-start", watch_bad_compaction_cancel),
    ("watch-bad-start", watch_from_compacted),
    ("watch-progress", watch_progress),
    ("watch-progress", watch_progress_back),
    ("stale-read", stale_serializable),
    ("stale-read", serializable_from_future),
    ("divergence", divergence_hash),
    ("divergence", divergence_hash_of_the_empty_store),
    ("divergence", divergence_revision),
    ("divergence", divergence_revision_hash_failed),
    ("divergence", divergence_further_along),
]


@pytest.mark.parametrize(("kind", "make"), CASES, ids=[f"{k}:{m.__name__}" for k, m in CASES])
def test_bad_history_is_caught_with_its_kind(kind: str, make: Callable[[bool], History]) -> None:
    v = check_history(make(True))
    assert v.verdict == "illegal"
    assert kind in v.kinds(), v.summary()


@pytest.mark.parametrize(("kind", "make"), CASES, ids=[f"{k}:{m.__name__}" for k, m in CASES])
def test_close_valid_variant_passes(kind: str, make: Callable[[bool], History]) -> None:
    v = check_history(make(False))
    assert v.verdict == "ok", v.summary()


def test_lost_write_is_named() -> None:
    v = check_history(lost_write(True))
    lost = [a for a in v.anomalies if a.kind == "lost-write"]
    assert lost and 0 in lost[0].ops and lost[0].members == ["m3"]
    assert "op 0" in lost[0].message


def test_issue_13766_shape_names_the_lost_write_and_the_divergence() -> None:
    """m3 restarts without acked put c=1@4: later revisions are one lower there."""
    h = H()
    for i, k in enumerate("abcde"):
        h.put(k, "1", i + 2, 10 * i + 1, 10 * i + 5)  # a@2 b@3 c@4 d@5 e@6
    h.get(
        "a",
        5,
        [kv("a", "1", 2), kv("b", "1", 3), kv("d", "1", 4), kv("e", "1", 5)],
        60,
        70,
        end="z",
        serializable=True,
        member="m3",
        count=4,
    )
    final_status(h, [("m1", 20, 6), ("m2", 20, 6), ("m3", 20, 5)])
    v = check_history(h.history())
    lost = [a for a in v.anomalies if a.kind == "lost-write"]
    assert lost and lost[0].ops[0] == 2 and lost[0].members == ["m3"], v.summary()
    assert "op 2" in lost[0].message and "shifted by -1" in lost[0].message
    assert "divergence" in v.kinds()


def test_divergence_names_the_first_diverging_revision() -> None:
    """HashKV probes (as the runner's bisection records them) bound the first bad revision."""
    h = base()
    for rev, bad in ((2, False), (3, False), (4, True)):
        for m in ("m1", "m2", "m3"):
            hv = 8 if bad and m == "m3" else 7 + rev
            h.statuses.append(StatusRecord(time=100 + rev, member=m, hash=hv, hash_revision=rev))
    v = check_history(h.history())
    div = [a for a in v.anomalies if a.kind == "divergence"]
    assert len(div) == 1, v.summary()
    assert div[0].details["first_diverging_revision"] == 4
    assert div[0].details["last_equal_revision"] == 3
    assert "first diverge at revision 4" in div[0].message
