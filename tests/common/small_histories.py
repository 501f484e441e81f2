"""Histories of simulated linearizable executions, for property tests of the checker."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from models.operation import Operation


def _interval(draw: Any, free: list[int], lp: int) -> tuple[int, int, int, int]:
    """(client, linearization point, call, return) of the next op: the point moves on,
    the interval is drawn around it and after the client's previous op."""
    lp += draw(st.integers(1, 10))
    c = draw(st.integers(0, len(free) - 1))
    lp = max(lp, free[c])
    call = max(free[c], lp - draw(st.integers(0, 30)))
    ret = lp + draw(st.integers(0, 30))
    free[c] = ret + 1
    return c, lp, call, ret


@st.composite
def register_histories(
    draw: Any, max_ops: int = 30, clients: int = 4, unknown: bool = True
) -> tuple[list[Operation], Any]:
    """A cas-register history that is linearizable by construction.

    Each op takes effect at its own linearization point; its call and return are drawn
    around that point without crossing the client's previous op. An unknown op may have
    taken effect or not (both are drawn).
    """
    n = draw(st.integers(1, max_ops))
    initial = draw(st.sampled_from([None, 0]))
    state = initial
    free = [0] * clients
    ops: list[Operation] = []
    lp = 0
    for i in range(n):
        c, lp, call, ret = _interval(draw, free, lp)
        kind = draw(st.sampled_from(["read", "write", "cas"]))
        is_unknown = unknown and kind != "read" and draw(st.integers(0, 5)) == 0
        applied = not is_unknown or draw(st.booleans())
        if kind == "read":
            inp: dict[str, Any] = {"kind": "read"}
            out: Any = {"value": state}
        elif kind == "write":
            v = draw(st.integers(0, 4))
            inp, out = {"kind": "write", "value": v}, {}
            if applied:
                state = v
        else:
            a, b = draw(st.integers(0, 4)), draw(st.integers(0, 4))
            inp = {"kind": "cas", "expect": a, "value": b}
            hit = state == a
            out = {"ok": hit}
            if applied and hit:
                state = b
        ops.append(
            Operation(
                id=i,
                client=c,
                call=call,
                ret=ret,
                input=inp,
                output=None if is_unknown else out,
                status="unknown" if is_unknown else "ok",
            )
        )
    return ops, initial


@st.composite
def kv_histories(draw: Any, max_ops: int = 30, clients: int = 4) -> list[Operation]:
    """A porcupine-kv history (several keys) that is linearizable by construction."""
    n = draw(st.integers(1, max_ops))
    state: dict[str, str] = {}
    free = [0] * clients
    ops: list[Operation] = []
    lp = 0
    for i in range(n):
        c, lp, call, ret = _interval(draw, free, lp)
        key = draw(st.sampled_from("ab"))
        kind = draw(st.sampled_from(["get", "put", "append"]))
        if kind == "get":
            inp: dict[str, Any] = {"kind": "get", "key": key}
            out: Any = {"value": state.get(key, "")}
        else:
            v = f"<{i}>"
            inp, out = {"kind": kind, "key": key, "value": v}, {}
            state[key] = v if kind == "put" else state.get(key, "") + v
        ops.append(Operation(id=i, client=c, call=call, ret=ret, input=inp, output=out))
    return ops
