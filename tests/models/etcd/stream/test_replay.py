"""The pieces a window's replay is seeded with: a store with a bounded past, a state
pinned by a read of every key."""

from __future__ import annotations

from models.etcd.state import KV, Store
from models.etcd.stream.replay import pinned_state
from models.operation import Operation


def kv(key: str, value: str, mod: int, create: int, version: int) -> KV:
    return KV(key, value, create, mod, version, 0)


def store_of_five() -> Store:
    s = Store(lease_check=False)
    s.commit(2, [("a", kv("a", "1", 2, 2, 1))])
    s.commit(3, [("b", kv("b", "1", 3, 3, 1))])
    s.commit(4, [("a", kv("a", "2", 4, 2, 2))])
    s.commit(5, [("b", None)])
    return s


def test_forget_before_keeps_every_read_from_there_on() -> None:
    full, trimmed = store_of_five(), store_of_five()
    trimmed.forget_before(4)
    for rev in (4, 5):
        for key in ("a", "b"):
            assert trimmed.get(key, rev) == full.get(key, rev)
        assert trimmed.range("", "\x00", rev) == full.range("", "\x00", rev)
    assert trimmed.versions() < full.versions()
    trimmed.forget_before(5)
    assert trimmed.keys() == ["a"], "a key deleted by then goes"


def test_a_copy_is_independent() -> None:
    s = store_of_five()
    c = s.copy()
    c.commit(6, [("c", kv("c", "1", 6, 6, 1))])
    assert s.revision == 5 and s.get("c", 6) is None and c.get("c", 6) is not None


def test_truncated_is_the_store_as_it_was_at_that_revision() -> None:
    full = store_of_five()
    at3 = full.truncated(3)
    assert at3.revision == 3 and full.revision == 5, "the store it came from is untouched"
    for rev in (2, 3):
        assert at3.range("", "\x00", rev) == full.range("", "\x00", rev)
    assert at3.get("a", 0) == full.get("a", 3) and at3.get("b", 0) == full.get("b", 3)
    assert full.truncated(1).keys() == [], "a key written only later is not there"
    at3.commit(4, [("c", kv("c", "1", 4, 4, 1))])
    assert full.get("c", 5) is None and full.get("a", 4) == kv("a", "2", 4, 2, 2)


def test_seeded_store_answers_at_and_after_its_revision() -> None:
    s = Store.seeded(9, [kv("b", "x", 7, 3, 2), kv("a", "y", 9, 9, 1)])
    assert s.revision == 9 and [k.key for k in s.range("", "\x00", 0)] == ["a", "b"]
    s.commit(10, [("a", None)])
    assert [k.key for k in s.range("", "\x00", 10)] == ["b"]


def _read(key: str, end: str | None, **extra: object) -> Operation:
    out = {"header": {"revision": 8}, "kvs": [{"key": "k1", "mod_revision": 5, "value": "v"}], "count": 1}
    return Operation(
        id=1,
        client=0,
        call=0,
        ret=1,
        input={"kind": "range", "key": key, "range_end": end, **extra},
        output=out,
    )


def test_what_pins_a_state() -> None:
    assert pinned_state(_read("\x00", "\x00"), {"zz"}) is not None
    assert pinned_state(_read("k", "l"), {"k1", "k2"}) is not None
    assert pinned_state(_read("k", "l"), {"k1", "m"}) is None, "a key written outside the range"
    assert pinned_state(_read("\x00", "\x00", limit=5), set()) is None
    assert pinned_state(_read("\x00", "\x00", revision=3), set()) is None
    assert pinned_state(_read("\x00", "\x00", serializable=True), set()) is None
    assert pinned_state(_read("k1", None), {"k1"}) is None
