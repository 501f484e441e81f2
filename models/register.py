"""A single compare-and-set register, the model of Jepsen's and Knossos's etcd tests."""

from __future__ import annotations

from typing import Any

from models.model import BaseModel


class CasRegister(BaseModel):
    """Reads, writes and compare-and-set on one value.

    A ``cas`` whose output is ``{"ok": false}`` observed that the value differed from
    ``expect``; with an unknown outcome it applies exactly when the compare holds.
    A ``read`` with an unknown outcome observes nothing.
    """

    name = "cas-register"

    def __init__(self, initial: Any = None):
        self.initial = initial

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
