"""A single compare-and-set register, the model of Jepsen's and Knossos's etcd tests."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import msgspec

from models.model import REFUTED, BaseModel, Pruner
from models.operation import INFINITY, Operation
from models.schema import OpSchema, Scalar, validate_options


class _Read(msgspec.Struct, tag="read", tag_field="kind", forbid_unknown_fields=True):
    pass


class _Write(msgspec.Struct, tag="write", tag_field="kind", forbid_unknown_fields=True):
    value: Scalar


class _Cas(msgspec.Struct, tag="cas", tag_field="kind", forbid_unknown_fields=True):
    expect: Scalar
    value: Scalar


class _ReadOut(msgspec.Struct):
    value: Scalar


class _CasOut(msgspec.Struct):
    ok: bool


class Options(msgspec.Struct, forbid_unknown_fields=True):
    initial: Scalar = None


class CasRegister(BaseModel):
    """Reads, writes and compare-and-set on one value.

    A ``cas`` whose output is ``{"ok": false}`` observed that the value differed from
    ``expect``; with an unknown outcome it applies exactly when the compare holds.
    A ``read`` with an unknown outcome observes nothing.
    """

    name = "cas-register"
    schemas: ClassVar[Mapping[str, OpSchema]] = {
        "read": OpSchema(_Read, _ReadOut),
        "write": OpSchema(_Write, Any),
        "cas": OpSchema(_Cas, _CasOut),
    }

    def __init__(self, initial: Any = None):
        self.initial = initial

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Self:
        return cls(initial=validate_options(cls.name, Options, options).initial)

    def init(self) -> Any:
        return self.initial

    def step(self, state: Any, input: Any, output: Any) -> tuple[bool, Any]:
        kind = input["kind"]
        if kind == "read":
            return (output is None or output.get("value") == state), state
        if kind == "write":
            return True, input["value"]
        if kind == "cas":
            matches = state == input["expect"]
            if output is None:
                return True, (input["value"] if matches else state)
            if output.get("ok"):
                return matches, input["value"]
            return not matches, state
        raise ValueError(f"cas-register: unknown operation kind {kind!r}")

    def observes_only(self, input: Any, output: Any) -> bool:
        kind = input["kind"]
        return kind == "read" or (kind == "cas" and output is not None and not output.get("ok"))

    def pruner(self, ops: Sequence[Operation]) -> Pruner | None:
        pruner = _Pruner(ops)
        return pruner if pruner.needs else None

    def describe_operation(self, input: Any, output: Any) -> str:
        kind = input["kind"]
        if kind == "read":
            return "read -> ?" if output is None else f"read -> {output.get('value')!r}"
        if kind == "write":
            return f"write {input['value']!r}"
        result = "?" if output is None else ("ok" if output.get("ok") else "compare failed")
        return f"cas {input['expect']!r} -> {input['value']!r}: {result}"

    def describe_state(self, state: Any) -> str:
        return f"value={state!r}"


class _Pruner:
    """What the reads and successful compares of a register history tell about a state.

    A remaining read that returned ``v``, or cas that succeeded expecting ``v``, is
    legal only where the register holds ``v``: it does now, or an op not placed yet and
    called before that one returned can still write ``v`` (a write of ``v``, a cas to
    ``v`` that succeeded or may have). Otherwise no order of the remaining ops is legal.
    Ops that may never take effect are not asked. As few as the first :attr:`CHECKED`
    unplaced ones (in call order) are checked: fewer checks are weaker, hence sound.
    """

    CHECKED = 4

    def __init__(self, ops: Sequence[Operation]):
        #: Per value, the ops that may write it, by call time, as (call, bits of them so far).
        writers: dict[Any, list[tuple[int, int]]] = {}
        for j, op in sorted(enumerate(ops), key=lambda jo: jo[1].call):
            kind, out = op.input["kind"], op.output if op.status == "ok" else None
            if kind == "write" or (kind == "cas" and (out is None or out.get("ok"))):
                so_far = writers.setdefault(op.input["value"], [])
                so_far.append((op.call, (so_far[-1][1] if so_far else 0) | 1 << j))
        #: Per op that needs a value: the value and the other ops that may write it in time.
        self.needs: dict[int, tuple[Any, int]] = {}
        for i, op in enumerate(ops):
            if op.status != "ok" or op.effective_return == INFINITY:
                continue
            kind = op.input["kind"]
            if kind == "read":
                value = op.output.get("value")
            elif kind == "cas" and op.output.get("ok"):
                value = op.input["expect"]
            else:
                continue
            so_far = writers.get(value, [])
            k = bisect_right(so_far, op.effective_return, key=lambda cw: cw[0])
            self.needs[i] = (value, (so_far[k - 1][1] & ~(1 << i)) if k else 0)
        self.mask = sum(1 << i for i in self.needs)

    def prune(self, state: Any, placed: int) -> Any:
        rest = self.mask & ~placed
        for _ in range(self.CHECKED):
            if not rest:
                break
            low = rest & -rest
            rest ^= low
            value, writers = self.needs[low.bit_length() - 1]
            if state != value and not writers & ~placed:
                return REFUTED
        return state

    def blame(self, state: Any, placed: int) -> list[int]:
        return [
            i
            for i, (value, writers) in self.needs.items()
            if not placed >> i & 1 and state != value and not writers & ~placed
        ]
