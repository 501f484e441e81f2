"""Porcupine's key-value model: get, put and append on string keys, every key starts as ""."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import msgspec

from models.model import BaseModel
from models.operation import Operation
from models.schema import OpSchema


class _Get(msgspec.Struct, tag="get", tag_field="kind", forbid_unknown_fields=True):
    key: str


class _Put(msgspec.Struct, tag="put", tag_field="kind", forbid_unknown_fields=True):
    key: str
    value: str


class _Append(msgspec.Struct, tag="append", tag_field="kind", forbid_unknown_fields=True):
    key: str
    value: str


class _GetOut(msgspec.Struct):
    value: str


class KeyValue(BaseModel):
    """Keys are independent, so the history splits into one sub-history per key.

    The state of a partition is the value of its single key; that keeps states small
    and cheap to hash, which is what the search spends its time on.
    """

    name = "kv"
    schemas: ClassVar[Mapping[str, OpSchema]] = {
        "get": OpSchema(_Get, _GetOut),
        "put": OpSchema(_Put, Any),
        "append": OpSchema(_Append, Any),
    }

    def init(self) -> str:
        return ""

    def step(self, state: str, input: Any, output: Any) -> tuple[bool, str]:
        kind = input["kind"]
        if kind == "get":
            return (output is None or output.get("value") == state), state
        if kind == "put":
            return True, input["value"]
        if kind == "append":
            return True, state + input["value"]
        raise ValueError(f"kv: unknown operation kind {kind!r}")

    def partition(self, ops: Sequence[Operation]) -> list[list[Operation]]:
        by_key: dict[str, list[Operation]] = {}
        for op in ops:
            by_key.setdefault(op.input["key"], []).append(op)
        return [by_key[k] for k in sorted(by_key)]

    def observes_only(self, input: Any, output: Any) -> bool:
        return input["kind"] == "get"

    def describe_operation(self, input: Any, output: Any) -> str:
        kind = input["kind"]
        if kind == "get":
            got = "?" if output is None else repr(output.get("value"))
            return f"get({input['key']!r}) -> {got}"
        return f"{kind}({input['key']!r}, {input['value']!r})"

    def describe_state(self, state: str) -> str:
        return repr(state)
