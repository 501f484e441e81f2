"""The register's pruner must never change a verdict: histories where it fires, each
checked against the search without it and the plain reference search."""

from __future__ import annotations

from typing import Any

import pytest

from models.linearizability import check
from models.model import REFUTED
from models.operation import Operation
from models.register import CasRegister
from tests.common.differential import Counting, Unpruned, assert_linearizes, reference


def op(
    i: int, call: int, ret: int | None, inp: dict[str, Any], out: Any = None, status: str = "ok"
) -> Operation:
    return Operation(id=i, client=i, call=call, ret=ret, input=inp, output=out, status=status)  # type: ignore[arg-type]


def read(i: int, call: int, ret: int, value: Any) -> Operation:
    return op(i, call, ret, {"kind": "read"}, {"value": value})


def write(i: int, call: int, ret: int | None, value: Any, status: str = "ok") -> Operation:
    return op(i, call, ret, {"kind": "write", "value": value}, {} if status == "ok" else None, status)


def cas(i: int, call: int, ret: int | None, expect: Any, value: Any, ok: bool | None) -> Operation:
    status = "unknown" if ok is None else "ok"
    return op(
        i,
        call,
        ret,
        {"kind": "cas", "expect": expect, "value": value},
        None if ok is None else {"ok": ok},
        status,
    )


def verdict(ops: list[Operation], initial: Any = None) -> tuple[str, int]:
    counted = Counting(CasRegister(initial))
    res = check(counted, ops)
    assert res.verdict == check(Unpruned(CasRegister(initial)), ops).verdict
    assert res.verdict == ("ok" if reference(CasRegister(initial), ops) else "illegal")
    if res.verdict == "ok":
        assert_linearizes(CasRegister(initial), ops, res)
    return res.verdict, counted.refuted


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([write(0, 0, 1, 1), write(1, 0, 10, 2), read(2, 2, 3, 1), read(3, 4, 5, 2)], "ok"),
        ([write(0, 0, 1, 1), write(1, 0, 3, 2), read(2, 4, 5, 2), read(3, 6, 7, 1)], "illegal"),
        ([write(0, 0, None, 7, "unknown"), read(1, 2, 3, None), read(2, 4, 5, 7)], "ok"),
        ([read(0, 0, 1, 7), write(1, 2, None, 7, "unknown")], "illegal"),
        ([cas(0, 0, None, None, 3, None), write(1, 1, 2, 5), read(2, 3, 4, 3)], "illegal"),
        ([cas(0, 0, None, 5, 3, None), write(1, 1, 2, 5), read(2, 3, 4, 3)], "ok"),
        ([write(0, 0, 1, 5), cas(1, 2, 3, 4, 3, True)], "illegal"),
        ([write(0, 0, 1, 4), cas(1, 0, 5, 4, 3, True), read(2, 2, 3, 4)], "ok"),
        ([cas(0, 0, 5, 1, 1, True), write(1, 0, 5, 1), read(2, 6, 7, 1)], "ok"),
        ([cas(0, 0, 5, 1, 1, True), write(1, 6, 7, 1)], "illegal"),
    ],
)
def test_reads_and_compares_need_a_writer_in_time(ops: list[Operation], expected: str) -> None:
    assert verdict(ops)[0] == expected


def test_the_pruner_fires_on_a_value_nobody_can_write_any_more() -> None:
    ops = [write(0, 0, 10, 1), write(1, 0, 10, 2), read(2, 11, 12, 1), read(3, 0, 10, 2)]
    result, refuted = verdict(ops)
    assert result == "ok" and refuted
    pruner = CasRegister().pruner(ops)
    assert pruner is not None
    assert pruner.prune(1, 0b0001) == 1 and pruner.prune(2, 0b0011) is REFUTED
    assert pruner.blame(2, 0b0011) == [2]
