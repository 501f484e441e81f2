"""etcd request semantics, one rule per case (see models/etcd/requests.py)."""

from __future__ import annotations

from typing import Any

import pytest

from models.etcd.requests import apply, canonical
from models.etcd.state import KV, FrozenState, Store
from tests.common.simulator import commit


def run(reqs: list[dict[str, Any]]) -> tuple[Store, list[dict[str, Any]]]:
    """Apply requests in order to a fresh store; return it and the responses."""
    store = Store()
    outs = []
    for req in reqs:
        res = apply(store, req)
        commit(store, res)
        outs.append(res.output)
    return store, outs


def put(k: str, v: str, **kw: Any) -> dict[str, Any]:
    return {"kind": "put", "key": k, "value": v, **kw}


def rng(k: str, end: str | None = None, **kw: Any) -> dict[str, Any]:
    return {"kind": "range", "key": k, "range_end": end, **kw}


def test_put_bumps_revision_even_for_same_value_and_counts_versions() -> None:
    store, outs = run([put("a", "1"), put("a", "1"), put("a", "2", prev_kv=True)])
    assert [o["header"]["revision"] for o in outs] == [2, 3, 4]
    assert store.get("a", 0) == KV("a", "2", 2, 4, 3, 0)
    assert outs[2]["prev_kv"]["mod_revision"] == 3


def test_delete_of_nothing_does_not_bump_and_version_resets() -> None:
    store, outs = run(
        [{"kind": "delete", "key": "x"}, put("a", "1"), {"kind": "delete", "key": "a"}, put("a", "2")]
    )
    assert outs[0] == {"header": {"revision": 1}, "deleted": 0, "prev_kvs": []}
    assert outs[2]["deleted"] == 1 and outs[2]["header"]["revision"] == 3
    assert store.get("a", 0) == KV("a", "2", 4, 4, 1, 0)


def test_range_count_more_limit_keys_only_count_only() -> None:
    _, outs = run(
        [
            put("a", "1"),
            put("b", "2"),
            put("c", "3"),
            rng("a", "c", limit=1),
            rng("a", "\x00", keys_only=True),
            rng("a", "\x00", count_only=True),
            rng("\x00", "\x00", limit=5),
        ]
    )
    assert outs[3]["count"] == 2 and outs[3]["more"] is True and [kv["key"] for kv in outs[3]["kvs"]] == ["a"]
    assert all(kv["value"] == "" for kv in outs[4]["kvs"]) and outs[4]["count"] == 3
    assert outs[5] == {"header": {"revision": 4}, "kvs": [], "more": False, "count": 3}
    assert outs[6]["more"] is False and outs[6]["count"] == 3


def test_range_at_past_compacted_and_future_revisions() -> None:
    _, outs = run(
        [
            put("a", "1"),
            put("a", "2"),
            rng("a", revision=2),
            {"kind": "compact", "revision": 2},
            rng("a", revision=1),
            rng("a", revision=2),
            rng("a", revision=9),
            {"kind": "compact", "revision": 2},
            {"kind": "compact", "revision": 9},
        ]
    )
    assert outs[2]["kvs"][0]["value"] == "1" and outs[2]["header"]["revision"] == 3
    assert outs[3] == {"header": {"revision": 3}}
    assert outs[4] == {"error": "compacted"}
    assert outs[5]["kvs"][0]["value"] == "1"
    assert outs[6] == {"error": "future_revision"}
    assert outs[7] == {"error": "compacted"}
    assert outs[8] == {"error": "future_revision"}


@pytest.mark.parametrize(
    ("target", "result", "value", "expected"),
    [
        ("value", "=", "1", True),
        ("value", "!=", "1", False),
        ("value", ">", "0", True),
        ("version", "=", 1, True),
        ("create", "<", 3, True),
        ("mod", ">", 2, False),
        ("lease", "=", 0, True),
    ],
)
def test_txn_compare_targets(target: str, result: str, value: Any, expected: bool) -> None:
    cmp = {"key": "a", "target": target, "result": result, "value": value}
    _, outs = run([put("a", "1"), {"kind": "txn", "compare": [cmp], "success": [], "failure": []}])
    assert outs[1]["succeeded"] is expected


def test_txn_compare_on_missing_key() -> None:
    txn = {"kind": "txn", "success": [put("m", "x")], "failure": []}
    _, outs = run(
        [
            {**txn, "compare": [{"key": "m", "target": "value", "result": "!=", "value": "z"}]},
            {**txn, "compare": [{"key": "m", "target": "version", "result": "=", "value": 0}]},
        ]
    )
    assert outs[0]["succeeded"] is False  # a value compare on a missing key always fails
    assert outs[1]["succeeded"] is True and outs[1]["header"]["revision"] == 2


def test_txn_writes_share_one_revision_and_reads_see_them() -> None:
    store, outs = run(
        [
            {
                "kind": "txn",
                "compare": [],
                "success": [put("a", "1"), put("b", "2"), rng("a"), {"kind": "delete", "key": "zz"}],
                "failure": [],
            },
            {"kind": "txn", "compare": [], "success": [rng("a")], "failure": []},
        ]
    )
    assert outs[0]["header"]["revision"] == 2
    assert outs[0]["responses"][2]["kvs"][0]["mod_revision"] == 2
    assert outs[1]["header"]["revision"] == 2
    assert store.revision == 2


def test_nested_txn() -> None:
    inner = {
        "kind": "txn",
        "compare": [{"key": "a", "target": "version", "result": ">", "value": 0}],
        "success": [put("b", "x")],
        "failure": [],
    }
    _, outs = run([put("a", "1"), {"kind": "txn", "compare": [], "success": [inner], "failure": []}])
    assert outs[1]["responses"][0]["succeeded"] is True and outs[1]["header"]["revision"] == 3


def test_leases() -> None:
    store, outs = run(
        [
            {"kind": "lease_grant", "id": 7, "ttl": 60},
            put("a", "1", lease=7),
            put("b", "1", lease=7),
            put("c", "1", lease=8),
            {"kind": "lease_revoke", "id": 7},
            {"kind": "lease_revoke", "id": 7},
            {"kind": "lease_grant", "id": 9, "ttl": 60},
            {"kind": "lease_revoke", "id": 9},
        ]
    )
    assert outs[0]["header"]["revision"] == 1  # grant does not move the revision
    assert outs[3] == {"error": "lease_not_found"}
    assert outs[4] == {"header": {"revision": 4}}  # both keys deleted at one revision
    assert store.get("a", 0) is None and store.get("b", 0) is None
    assert outs[5] == {"error": "lease_not_found"}
    assert outs[7] == {"header": {"revision": 4}}  # no keys: no new revision


def test_txn_fails_whole_on_unknown_lease() -> None:
    store, outs = run(
        [{"kind": "txn", "compare": [], "success": [put("a", "1"), put("b", "1", lease=5)], "failure": []}]
    )
    assert outs[0] == {"error": "lease_not_found"} and store.revision == 1


def test_canonical_ignores_member_and_term_but_not_revisions() -> None:
    req = rng("a")
    a = {"header": {"revision": 3, "member_id": 1, "raft_term": 2}, "kvs": [], "more": False, "count": 0}
    b = {"header": {"revision": 3, "member_id": 9, "raft_term": 5}, "kvs": [], "more": False, "count": 0}
    c = {"header": {"revision": 4}, "kvs": [], "more": False, "count": 0}
    assert canonical(req, a) == canonical(req, b) != canonical(req, c)


def test_frozen_state_matches_store() -> None:
    reqs = [put("a", "1"), put("b", "2"), {"kind": "delete", "key": "a"}, put("a", "3"), rng("\x00", "\x00")]
    _, outs = run(reqs)
    st = FrozenState()
    for req, want in zip(reqs, outs, strict=True):
        res = apply(st, req)
        assert canonical(req, res.output) == canonical(req, want)
        st = st.with_changes(res.changes)
    assert st.revision == 5 and isinstance(hash(st), int)


def test_txn_writing_a_key_twice_is_rejected() -> None:
    twice = {
        "kind": "txn",
        "compare": [],
        "success": [put("a", "1"), {"kind": "delete", "key": "a"}],
        "failure": [],
    }
    nested_ok = {
        "kind": "txn",
        "compare": [],
        "success": [{"kind": "txn", "compare": [], "success": [put("a", "1")], "failure": [put("a", "2")]}],
        "failure": [],
    }
    store, outs = run([twice, nested_ok])
    assert outs[0] == {"error": "duplicate_key"}
    assert outs[1]["header"]["revision"] == 2 and store.get("a", 0) is not None


SORT_SETUP = [put("b", "3"), put("a", "1"), put("c", "2"), put("b", "9"), put("a", "5"), put("a", "7")]
# a: create 3, mod 7, version 3, value 7; b: create 2, mod 5, version 2, value 9; c: create 4, mod 4, version 1


@pytest.mark.parametrize(
    ("options", "keys"),
    [
        ({"sort_target": "key", "sort_order": "descend"}, ["c", "b", "a"]),
        ({"sort_target": "version"}, ["c", "b", "a"]),
        ({"sort_target": "create", "sort_order": "descend"}, ["c", "a", "b"]),
        ({"sort_target": "mod", "sort_order": "ascend"}, ["c", "b", "a"]),
        ({"sort_target": "value", "sort_order": "descend"}, ["b", "a", "c"]),
        ({"min_mod_revision": 5}, ["a", "b"]),
        ({"max_mod_revision": 5}, ["b", "c"]),
        ({"min_create_revision": 3}, ["a", "c"]),
        ({"max_create_revision": 3, "sort_order": "descend"}, ["b", "a"]),
        ({"min_mod_revision": 5, "limit": 1}, ["a"]),
    ],
)
def test_sorts_and_filters_prune_after_counting(options: dict[str, Any], keys: list[str]) -> None:
    _, outs = run([*SORT_SETUP, rng("a", "z", **options)])
    out = outs[-1]
    assert [kv["key"] for kv in out["kvs"]] == keys
    assert out["count"] == 3, "count is taken before the filters"
    assert out["more"] == (options.get("limit") == 1)


def test_keys_that_tie_on_a_sort_target_may_come_in_any_order() -> None:
    _, outs = run([put("a", "1"), put("b", "2"), put("c", "3"), rng("a", "z", sort_target="version")])
    req, out = rng("a", "z", sort_target="version"), outs[-1]
    swapped = {**out, "kvs": [out["kvs"][1], out["kvs"][0], out["kvs"][2]]}
    assert canonical(req, swapped) == canonical(req, out)
    mod = rng("a", "z", sort_target="mod")
    assert canonical(mod, swapped) != canonical(mod, out), "mod revisions differ: the order is checked"


def test_put_ignore_lease_keeps_the_keys_lease_and_needs_the_key() -> None:
    lease = {"kind": "lease_grant", "id": 5, "ttl": 60}
    store, outs = run(
        [lease, put("a", "1", lease=5), put("a", "2", ignore_lease=True), put("z", "1", ignore_lease=True)]
    )
    assert store.get("a", 0) == KV("a", "2", 2, 3, 2, 5)
    assert outs[-1] == {"error": "key_not_found"} and store.get("z", 0) is None
