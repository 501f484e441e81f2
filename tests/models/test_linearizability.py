from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.history.importers import load_history
from models.kv import KeyValue
from models.linearizability import check
from models.model import Model
from models.operation import Operation
from models.register import CasRegister
from tests.common.differential import assert_linearizes, brute_force, interval, reference
from tests.common.shared import HISTORIES, expected_rows
from tests.common.small_histories import kv_histories, register_histories


def op(
    i: int, call: int, ret: int | None, inp: dict[str, Any], out: Any = None, status: str = "ok"
) -> Operation:
    return Operation(id=i, client=i, call=call, ret=ret, input=inp, output=out, status=status)  # type: ignore[arg-type]


@pytest.mark.parametrize("row", expected_rows(), ids=lambda r: r["file"])
def test_shared_corpus_gets_expected_verdict(row: dict[str, str], shared_histories: Any) -> None:
    hist = load_history(str(HISTORIES / row["file"]))
    assert hist.model == row["model"]
    if row["model"] == "kv":
        model: Model = KeyValue()
    else:
        model = CasRegister(initial=hist.header.model_options.get("initial"))
    res = check(model, hist.operations(), timeout=120)
    assert res.verdict == row["expected"]
    if res.verdict == "illegal":
        assert res.witness is not None and res.witness.stuck
    else:
        order = [i for part in res.linearization or [] for i in part]
        required = {o.id for o in hist.operations() if o.status == "ok"}
        assert required <= set(order)


def test_sequential_register() -> None:
    ops = [
        op(0, 0, 1, {"kind": "write", "value": 1}, {}),
        op(1, 2, 3, {"kind": "read"}, {"value": 1}),
        op(2, 4, 5, {"kind": "cas", "expect": 1, "value": 2}, {"ok": True}),
        op(3, 6, 7, {"kind": "read"}, {"value": 2}),
    ]
    res = check(CasRegister(), ops)
    assert res.verdict == "ok"
    assert res.linearization == [[0, 1, 2, 3]]


def test_stale_read_after_write_returned_is_illegal() -> None:
    ops = [
        op(0, 0, 1, {"kind": "write", "value": 1}, {}),
        op(1, 2, 3, {"kind": "read"}, {"value": None}),
    ]
    res = check(CasRegister(), ops)
    assert res.verdict == "illegal"
    w = res.witness
    assert w is not None
    assert w.prefix == [0] and w.stuck == [1] and w.state == 1


def test_concurrent_read_may_see_either_value() -> None:
    for seen in (None, 1):
        ops = [
            op(0, 0, 10, {"kind": "write", "value": 1}, {}),
            op(1, 2, 3, {"kind": "read"}, {"value": seen}),
        ]
        assert check(CasRegister(), ops).verdict == "ok"


def test_unknown_write_may_apply_late_or_never() -> None:
    late = [
        op(0, 0, None, {"kind": "write", "value": 7}, status="unknown"),
        op(1, 5, 6, {"kind": "read"}, {"value": None}),
        op(2, 8, 9, {"kind": "read"}, {"value": 7}),
    ]
    assert check(CasRegister(), late).verdict == "ok"
    never = [
        op(0, 0, 1, {"kind": "write", "value": 7}, status="unknown"),
        op(1, 5, 6, {"kind": "read"}, {"value": None}),
    ]
    assert check(CasRegister(), never).verdict == "ok"
    flipflop = late + [op(3, 10, 11, {"kind": "read"}, {"value": None})]
    assert check(CasRegister(), flipflop).verdict == "illegal"


def test_unknown_write_cannot_apply_before_its_call() -> None:
    ops = [
        op(0, 0, 1, {"kind": "read"}, {"value": 7}),
        op(1, 5, None, {"kind": "write", "value": 7}, status="unknown"),
    ]
    assert check(CasRegister(), ops).verdict == "illegal"


def test_failed_ops_are_ignored() -> None:
    ops = [
        op(0, 0, 1, {"kind": "write", "value": 7}, status="fail"),
        op(1, 5, 6, {"kind": "read"}, {"value": None}),
    ]
    res = check(CasRegister(), ops)
    assert res.verdict == "ok" and res.ops == 1


def test_compare_failed_is_an_observation() -> None:
    ops = [op(0, 0, 1, {"kind": "cas", "expect": None, "value": 1}, {"ok": False})]
    assert check(CasRegister(), ops).verdict == "illegal"
    assert check(CasRegister(initial=0), ops).verdict == "ok"


def test_a_write_of_the_current_value_may_still_be_needed_later() -> None:
    """write(1) leaves state 1 unchanged, yet only placing it after write(2) explains the
    read: an op that happens to keep one state is not a read (a former false alarm)."""
    ops = [
        op(0, 0, 1, {"kind": "write", "value": 1}, {}),
        op(1, 2, 10, {"kind": "write", "value": 1}, {}),
        op(2, 2, 10, {"kind": "write", "value": 2}, {}),
        op(3, 11, 12, {"kind": "read"}, {"value": 1}),
    ]
    assert check(CasRegister(), ops).verdict == "ok"
    assert (
        check(CasRegister(), [*ops[:3], op(3, 11, 12, {"kind": "read"}, {"value": 0})]).verdict == "illegal"
    )
    kv = [
        op(0, 0, 1, {"kind": "put", "key": "k", "value": "x"}, {}),
        op(1, 2, 10, {"kind": "put", "key": "k", "value": "x"}, {}),
        op(2, 2, 10, {"kind": "append", "key": "k", "value": "y"}, {}),
        op(3, 11, 12, {"kind": "get", "key": "k"}, {"value": "x"}),
    ]
    assert check(KeyValue(), kv).verdict == "ok"


def test_budget_exhaustion_is_unknown_not_a_crash() -> None:
    hist = load_history(str(HISTORIES / "porcupine-etcd/etcd_002.log")) if HISTORIES.exists() else None
    if hist is None:
        pytest.skip("shared histories missing")
    res = check(CasRegister(), hist.operations(), max_states=50)
    assert res.verdict == "unknown"
    assert "memory budget" in res.reason
    res = check(CasRegister(), hist.operations(), timeout=0.0)
    assert res.verdict == "unknown" and "time" in res.reason


def test_cheapest_refutation_wins_across_partitions() -> None:
    ops = [
        op(0, 0, 1, {"kind": "put", "key": "b", "value": "x"}, {}),
        op(1, 2, 3, {"kind": "get", "key": "b"}, {"value": ""}),
    ]
    res = check(KeyValue(), ops)
    assert res.verdict == "illegal" and res.witness is not None and res.witness.stuck == [1]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(register_histories())
def test_simulated_linearizable_register_histories_pass(case: tuple[list[Operation], Any]) -> None:
    ops, initial = case
    assert check(CasRegister(initial=initial), ops, timeout=30).verdict == "ok"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(register_histories(), st.data())
def test_a_read_of_a_never_written_value_is_illegal(
    case: tuple[list[Operation], Any], data: st.DataObject
) -> None:
    ops, initial = case
    reads = [i for i, o in enumerate(ops) if o.input["kind"] == "read" and o.status == "ok"]
    if not reads:
        return
    i = data.draw(st.sampled_from(reads))
    ops[i] = Operation(
        **{**{f: getattr(ops[i], f) for f in ops[i].__struct_fields__}, "output": {"value": 999}}
    )
    assert check(CasRegister(initial=initial), ops, timeout=30).verdict == "illegal"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(kv_histories())
def test_simulated_kv_histories_pass(ops: list[Operation]) -> None:
    assert check(KeyValue(), ops, timeout=30).verdict == "ok"


def _shuffled_register_history() -> Any:
    kinds = st.sampled_from(["read", "write", "cas"])

    @st.composite
    def build(draw: Any) -> tuple[list[Operation], Any]:
        n = draw(st.integers(1, 7))
        ops = []
        for i in range(n):
            call = draw(st.integers(0, 20))
            status = draw(st.sampled_from(["ok", "ok", "ok", "unknown", "fail"]))
            ret = call + draw(st.integers(0, 10))
            kind = draw(kinds)
            if kind == "read":
                inp: dict[str, Any] = {"kind": "read"}
                out: Any = {"value": draw(st.sampled_from([None, 0, 1]))}
                if status == "unknown":
                    status = "fail"
            elif kind == "write":
                inp, out = {"kind": "write", "value": draw(st.integers(0, 1))}, {}
            else:
                inp = {
                    "kind": "cas",
                    "expect": draw(st.sampled_from([None, 0, 1])),
                    "value": draw(st.integers(0, 1)),
                }
                out = {"ok": draw(st.booleans())}
            ops.append(op(i, call, ret, inp, out if status == "ok" else None, status))
        return ops, draw(st.sampled_from([None, 0]))

    return build()


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(_shuffled_register_history())
def test_small_histories_agree_with_brute_force(case: tuple[list[Operation], Any]) -> None:
    ops, initial = case
    model = CasRegister(initial=initial)
    expected = "ok" if brute_force(model, ops) else "illegal"
    assert check(model, ops).verdict == expected


def test_same_history_same_witness() -> None:
    if not HISTORIES.exists():
        pytest.skip("shared histories missing")
    hist = load_history(str(HISTORIES / "porcupine-kv/c10-bad.txt"))
    a = check(KeyValue(), hist.operations()).witness
    b = check(KeyValue(), hist.operations()).witness
    assert a is not None and b is not None
    assert (a.partition, a.prefix, a.stuck, a.state) == (b.partition, b.prefix, b.stuck, b.state)


def random_register_history(rng: random.Random, n: int, clients: int = 5) -> tuple[list[Operation], Any]:
    """A simulated register execution rich in unknown writes and cas (took effect or not),
    often with one read's value then changed, so that many are not linearizable."""
    initial = rng.choice([None, 0])
    state, free, now, ops = initial, [0] * clients, 0, []
    for i in range(n):
        c, now, call, ret = interval(rng, free, now)
        kind = rng.choice(["read", "read", "write", "write", "cas"])
        status = "ok" if kind == "read" else rng.choices(["ok", "unknown", "fail"], [5, 4, 1])[0]
        applied = status == "ok" or (status == "unknown" and rng.random() < 0.5)
        if kind == "read":
            inp: dict[str, Any] = {"kind": "read"}
            out: Any = {"value": state}
        elif kind == "write":
            inp, out = {"kind": "write", "value": rng.randint(0, 3)}, {}
            state = inp["value"] if applied else state
        else:
            inp = {"kind": "cas", "expect": rng.randint(0, 3), "value": rng.randint(0, 3)}
            out = {"ok": state == inp["expect"]}
            state = inp["value"] if applied and out["ok"] else state
        ret_ = None if (status == "unknown" and rng.random() < 0.5) or rng.random() < 0.03 else ret
        ops.append(op(i, call, ret_, inp, out if status == "ok" else None, status))
    reads = [i for i, o in enumerate(ops) if o.input["kind"] == "read"]
    if reads and rng.random() < 0.6:
        i = rng.choice(reads)
        ops[i] = op(i, ops[i].call, ops[i].ret, ops[i].input, {"value": rng.choice([None, 0, 1, 2, 3])})
    return ops, initial


@pytest.mark.parametrize("seed", range(3))
def test_random_register_histories_get_the_plain_search_verdict(seed: int) -> None:
    """Every pruning and the order of candidates (definite ones first) against a search
    with none of them, on histories where unknown ops pile up."""
    rng = random.Random(seed)
    outcomes: dict[str, int] = {}
    for _ in range(1000):
        ops, initial = random_register_history(rng, rng.randint(3, 14))
        model = CasRegister(initial=initial)
        res = check(model, ops)
        assert res.verdict == ("ok" if reference(model, ops) else "illegal")
        if res.verdict == "ok":
            assert_linearizes(model, ops, res)
        outcomes[res.verdict] = outcomes.get(res.verdict, 0) + 1
    assert min(outcomes.values()) > 200 and len(outcomes) == 2, outcomes
