"""A report's "observed" and "expected" lines differ whenever the model finds the two
answers different: describe() shows every field canonical() compares."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from models.etcd.model import describe
from models.etcd.requests import canonical

KVS = st.fixed_dictionaries(
    {
        "key": st.sampled_from(["a", "b"]),
        "value": st.sampled_from(["x", "y"]),
        "mod_revision": st.integers(2, 4),
        "create_revision": st.integers(2, 4),
        "version": st.integers(1, 3),
        "lease": st.sampled_from([0, 7]),
    }
)
HEADER = st.fixed_dictionaries({"revision": st.integers(3, 4)})
ERROR = st.just({"error": "compacted"})

RANGE = {"kind": "range", "key": "a", "range_end": "c", "limit": 1}
PUT = {"kind": "put", "key": "a", "value": "x", "prev_kv": True}
DELETE = {"kind": "delete", "key": "a", "range_end": "c", "prev_kv": True}
TXN = {
    "kind": "txn",
    "compare": [{"key": "a", "target": "version", "result": ">", "value": 0}],
    "success": [PUT, RANGE],
    "failure": [DELETE],
}


def range_out(header: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    fields = {"kvs": st.lists(KVS, max_size=2), "count": st.integers(0, 2), "more": st.booleans()}
    return st.fixed_dictionaries({"header": HEADER, **fields} if header else fields)


def put_out(header: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    fields = {"prev_kv": st.none() | KVS}
    return st.fixed_dictionaries({"header": HEADER, **fields} if header else fields)


def delete_out(header: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    fields = {"deleted": st.integers(0, 2), "prev_kvs": st.lists(KVS, max_size=2)}
    return st.fixed_dictionaries({"header": HEADER, **fields} if header else fields)


TXN_OUT = st.one_of(
    st.fixed_dictionaries(
        {
            "header": HEADER,
            "succeeded": st.just(True),
            "responses": st.tuples(put_out(False), range_out(False)),
        }
    ),
    st.fixed_dictionaries(
        {"header": HEADER, "succeeded": st.just(False), "responses": st.tuples(delete_out(False))}
    ),
).map(lambda d: {**d, "responses": list(d["responses"])})

TTL = {"kind": "lease_timetolive", "id": 7, "keys": True}
TTL_OUT = st.one_of(
    st.just({"error": "lease_not_found"}),
    st.fixed_dictionaries(
        {
            "header": HEADER,
            "id": st.just(7),
            "ttl": st.integers(0, 3),
            "granted_ttl": st.just(3),
            "keys": st.lists(st.sampled_from(["a", "b"]), unique=True).map(sorted),
        }
    ),
)

CASES = st.one_of(
    st.tuples(st.just(RANGE), range_out() | ERROR, range_out() | ERROR),
    st.tuples(st.just(PUT), put_out(), put_out()),
    st.tuples(st.just(DELETE), delete_out(), delete_out()),
    st.tuples(st.just(TXN), TXN_OUT, TXN_OUT),
    st.tuples(st.just(TTL), TTL_OUT, TTL_OUT),
)


@settings(max_examples=400, deadline=None)
@given(CASES)
def test_answers_the_model_tells_apart_read_differently(case: tuple[dict[str, Any], Any, Any]) -> None:
    req, a, b = case
    if canonical(req, a) != canonical(req, b):
        assert describe(req, a) != describe(req, b)


def test_a_txn_shows_its_compares_branches_and_sub_responses() -> None:
    out = {
        "header": {"revision": 5},
        "succeeded": True,
        "responses": [
            {"prev_kv": {"key": "a", "value": "o", "mod_revision": 3, "create_revision": 2, "version": 2}},
            {"kvs": [], "count": 0},
        ],
    }
    text = describe(TXN, out)
    assert "version(a) > 0" in text and "then [put a=x prev_kv; range" in text and "else [delete" in text
    assert "succeeded [prev_kv=a=o@3(c2 v2); [] count=0]" in text
