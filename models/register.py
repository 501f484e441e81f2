"""A single compare-and-set register, the model of Jepsen's and Knossos's etcd tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import msgspec

from models.model import BaseModel
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
