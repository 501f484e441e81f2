"""Porcupine's key-value model: get, put and append on string keys, every key starts as ""."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import msgspec

from models.model import REFUTED, BaseModel, Pruner
from models.operation import INFINITY, Operation
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
    and cheap to hash, which is what the search spends its time on. ``None`` is the
    pruner's stand-in for any value no get of the sub-history can observe (see
    :class:`_Pruner`): appends keep it, a get with a known value never matches it.
    """

    name = "kv"
    schemas: ClassVar[Mapping[str, OpSchema]] = {
        "get": OpSchema(_Get, _GetOut),
        "put": OpSchema(_Put, Any),
        "append": OpSchema(_Append, Any),
    }

    def init(self) -> str | None:
        return ""

    def step(self, state: str | None, input: Any, output: Any) -> tuple[bool, str | None]:
        kind = input["kind"]
        if kind == "get":
            return (output is None or output.get("value") == state), state
        if kind == "put":
            return True, input["value"]
        if kind == "append":
            return True, None if state is None else state + input["value"]
        raise ValueError(f"kv: unknown operation kind {kind!r}")

    def partition(self, ops: Sequence[Operation]) -> list[list[Operation]]:
        by_key: dict[str, list[Operation]] = {}
        for op in ops:
            by_key.setdefault(op.input["key"], []).append(op)
        return [by_key[k] for k in sorted(by_key)]

    def observes_only(self, input: Any, output: Any) -> bool:
        return input["kind"] == "get"

    def pruner(self, ops: Sequence[Operation]) -> Pruner | None:
        pruner = _Pruner(ops)
        return pruner if pruner.gets else None

    def describe_operation(self, input: Any, output: Any) -> str:
        kind = input["kind"]
        if kind == "get":
            got = "?" if output is None else repr(output.get("value"))
            return f"get({input['key']!r}) -> {got}"
        return f"{kind}({input['key']!r}, {input['value']!r})"

    def describe_state(self, state: str | None) -> str:
        return "(a value no get observes)" if state is None else repr(state)


class _Pruner:
    """What the gets of one key's sub-history tell about a configuration.

    Refuting. A get returns the value of the last put (or "") followed by the values of
    the appends linearized since, in order. So in any completion, a remaining get that
    returned ``v`` comes after either (a) only appends from now on: the state is a
    prefix of ``v`` and the rest of ``v`` is made of values of unplaced appends; or
    (b) a put not placed yet, called before the get returned, whose value is a prefix
    of ``v``, then unplaced appends. A get with neither refutes the configuration. "Made
    of unplaced appends" is tested only as far as is cheap: ``v`` can be cut into values
    of appends called before the get returned, and no append that every such cut needs
    (the only op with its value) is placed; one append used twice is not ruled out. A
    get that may never take effect (no return) is not asked. Each omission only weakens
    the test, and so does asking only the first :attr:`CHECKED` unplaced gets (in call
    order: the ones the search meets first).

    Folding. When the state is a prefix of no get's value, no get can return it, or
    anything appends make of it, before a put replaces it: every such state allows
    exactly the same orders, and all become ``None`` (appends keep it, a get with a
    known value never matches it). Orders of appends a put later overwrote then meet in
    the memo.
    """

    CHECKED = 8

    def __init__(self, ops: Sequence[Operation]):
        self.appends: dict[str, list[tuple[int, int]]] = {}
        puts: dict[str, list[tuple[int, int]]] = {}
        for j, op in enumerate(ops):
            kind, value = op.input["kind"], op.input.get("value")
            if kind == "append" and value:
                self.appends.setdefault(value, []).append((j, op.call))
            elif kind == "put":
                puts.setdefault(value, []).append((j, op.call))
        self.lengths = sorted({len(v) for v in self.appends})
        put_lengths = sorted({len(v) for v in puts})
        #: Per get: its value, the appends needed from each offset (filled as asked), the
        #: puts it may follow (index, length of value) and when it returned.
        self.gets: dict[int, tuple[str, dict[int, int | None], list[tuple[int, int]], int]] = {}
        for i, op in enumerate(ops):
            if op.input["kind"] == "get" and op.status == "ok" and op.effective_return != INFINITY:
                v, ret = op.output["value"], op.effective_return
                rescuers = [
                    (j, n) for n in put_lengths if n <= len(v) for j, c in puts.get(v[:n], ()) if c <= ret
                ]
                self.gets[i] = (v, {len(v): 0}, rescuers, ret)
        self.mask = sum(1 << i for i in self.gets)
        self.order = sorted(self.gets)
        self.values = sorted({g[0] for g in self.gets.values()})

    def prune(self, state: str | None, placed: int) -> Any:
        state = self.canonical(state)
        if not (rest := self.mask & ~placed):
            return state
        order, checked = self.order, 0
        at = bisect_left(order, (rest & -rest).bit_length() - 1)  # the first unplaced get
        while checked < self.CHECKED and at < len(order):
            i, at = order[at], at + 1
            if placed >> i & 1:  # small shifts: the gets from the first unplaced one on
                continue
            checked += 1
            v, needs, rescuers, _ = self.gets[i]  # shortcuts to explained(): they only skip
            if (
                state is not None
                and v.startswith(state)
                and (need := needs.get(len(state))) is not None
                and not need & placed
            ):
                continue
            for j, k in rescuers:
                if not placed >> j & 1 and (need := needs.get(k)) is not None and not need & placed:
                    break
            else:
                if not self.explained(i, state, placed):
                    return REFUTED
        return state

    def blame(self, state: str | None, placed: int) -> list[int]:
        state = self.canonical(state)
        return [i for i in self.gets if not placed >> i & 1 and not self.explained(i, state, placed)]

    def canonical(self, state: str | None) -> str | None:
        if state is not None:
            k = bisect_left(self.values, state)
            if k == len(self.values) or not self.values[k].startswith(state):
                return None
        return state

    def explained(self, i: int, state: str | None, placed: int) -> bool:
        v, _, rescuers, _ = self.gets[i]
        if state is not None and v.startswith(state) and self.fits(i, len(state), placed):
            return True
        return bool(rescuers) and any(not placed >> j & 1 and self.fits(i, k, placed) for j, k in rescuers)

    def fits(self, i: int, k: int, placed: int) -> bool:
        """Whether get ``i``'s value from offset ``k`` on can still be made of appends."""
        needs = self.gets[i][1]
        need = needs[k] if k in needs else self.needed(i, k)
        return need is not None and not need & placed

    def needed(self, i: int, k: int) -> int | None:
        """The appends every cut of get ``i``'s value from offset ``k`` uses (None: no cut).

        Offsets are solved once per get, from the end back: an offset needs what all of
        its ways on have in common."""
        v, memo, _, ret = self.gets[i]
        appends, size = self.appends, len(v)
        todo, edges = [k], {k: list[tuple[int, int]]()}
        while todo:
            at = todo.pop()
            for n in self.lengths:
                if at + n > size:
                    break
                if (ops := appends.get(v[at : at + n])) is None:
                    continue
                if usable := [j for j, call in ops if call <= ret]:
                    to = at + n
                    edges[at].append((to, 1 << usable[0] if len(usable) == 1 else 0))
                    if to not in memo and to not in edges:
                        edges[to] = []
                        todo.append(to)
        for at in sorted(edges, reverse=True):
            common: int | None = None
            for to, bit in edges[at]:
                if (after := memo[to]) is not None:
                    common = after | bit if common is None else common & (after | bit)
            memo[at] = common
        return memo[k]
