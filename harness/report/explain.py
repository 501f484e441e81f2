"""The first violation in plain text, for a person at a terminal without a browser.

Times are shown in milliseconds from the start of the run (or as event positions for
histories imported from other tools), because raw nanosecond stamps are unreadable and
what matters is which operations overlapped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from harness.report.evidence import expected_texts, related_writes, witness, witness_anomaly
from models.anomaly import Anomaly
from models.verdict import Verdict

Describe = Callable[[Any, Any], str]


class OpLike(Protocol):
    """An ``OpRecord`` or a checker ``Operation``: explanations take either."""

    @property
    def id(self) -> int: ...
    @property
    def client(self) -> int: ...
    @property
    def call(self) -> int: ...
    @property
    def ret(self) -> int | None: ...
    @property
    def input(self) -> Any: ...
    @property
    def output(self) -> Any: ...
    @property
    def status(self) -> str: ...


Op = TypeVar("Op", bound=OpLike)


def describer(model_name: str | None) -> Describe:
    """The model's one-line description of an operation, or a generic one."""
    if model_name:
        try:
            from models.registry import make_model

            return make_model(model_name).describe_operation
        except Exception:  # an unknown or broken model must not stop an explanation
            pass
    return generic_describe


def generic_describe(input: Any, output: Any) -> str:
    if isinstance(input, dict):
        kind = input.get("kind", "?")
        args = " ".join(f"{k}={v!r}" for k, v in input.items() if k != "kind")
        req = f"{kind} {args}".strip()
    else:
        req = repr(input)
    return f"{req} -> {'?' if output is None else repr(output)}"


def safe_describe(describe: Describe, op: OpLike) -> str:
    try:
        return describe(op.input, op.output if op.status == "ok" else None)
    except Exception:  # a record the model does not understand still gets a line
        return generic_describe(op.input, op.output if op.status == "ok" else None)


def fmt_interval(op: OpLike, unit: str) -> str:
    if unit == "event":
        end = "never returned" if op.ret is None else f"{op.ret}"
        return f"events {op.call}..{end}"
    if op.ret is None:
        return f"{op.call / 1e6:.3f} ms .. never returned"
    return f"{op.call / 1e6:.3f}..{op.ret / 1e6:.3f} ms ({(op.ret - op.call) / 1e6:.1f} ms)"


def op_line(op: OpLike, describe: Describe, unit: str, members: dict[str, str] | None = None) -> str:
    member = getattr(op, "member", None)
    if member and members:
        member = members.get(member, member)
    where = f"client {op.client}" + (f" on {member}" if member else "")
    return f"op {op.id}: {where}, {op.status}, {fmt_interval(op, unit)}: {safe_describe(describe, op)}"


def overlapping(target: OpLike, ops: Sequence[Op], limit: int) -> list[Op]:
    """Ops whose interval meets ``target``'s: the ones that could have been ordered either way."""
    t_end = target.ret if target.ret is not None else 1 << 62
    key = _key(target)
    out = []
    for op in ops:
        if op.id == target.id or op.status == "fail" or (key is not None and _key(op) not in (key, None)):
            continue
        o_end = op.ret if op.ret is not None and op.status != "unknown" else 1 << 62
        if op.call <= t_end and target.call <= o_end:
            out.append(op)
    out.sort(key=lambda o: (abs(o.call - target.call), o.id))
    return out[:limit]


def _key(op: OpLike) -> Any:
    """Ops on other keys are independent in the kv model; naming them would mislead."""
    return op.input.get("key") if isinstance(op.input, dict) else None


def explain(
    verdict: Verdict,
    ops: Sequence[OpLike],
    *,
    describe: Describe | None = None,
    unit: str = "ns",
    limit: int = 3,
    members: dict[str, str] | None = None,
) -> list[str]:
    """Lines explaining the first violation: the ops, their times, expected vs observed.

    Empty when the verdict is not ``illegal``. ``ops`` are the history's records (or
    checker operations); ids missing from it are named without detail.
    """
    if verdict.verdict != "illegal":
        return []
    describe = describe or describer(verdict.model)
    by_id = {op.id: op for op in ops}

    def line(op: OpLike) -> str:
        return op_line(op, describe, unit, members)

    lines: list[str] = []
    rest = [a for a in verdict.anomalies if not witness_anomaly(verdict, a)]
    if witness(verdict).stuck:
        lines += _witness_lines(verdict, by_id, ops, describe, line, limit)
    elif rest:
        lines += _anomaly_lines(rest[0], by_id, describe, line, limit, related_writes(verdict, rest[0]))
        rest = rest[1:]
    if rest:
        kinds = sorted({a.kind for a in rest})
        lines.append(f"and {len(rest)} more anomal{'y' if len(rest) == 1 else 'ies'}: {', '.join(kinds)}")
    return lines


def _witness_lines(
    v: Verdict,
    by_id: dict[int, OpLike],
    ops: Sequence[OpLike],
    describe: Describe,
    line: Callable[[OpLike], str],
    limit: int,
) -> list[str]:
    w = witness(v)
    expected = expected_texts(v, ops)
    part = f"partition {w.partition}: " if w.partition is not None else ""
    lines = [f"{part}linearizable up to {len(w.prefix)} operations, reaching state {w.state_text}"]
    for i in w.stuck[:limit]:
        op = by_id.get(i)
        if op is None:
            lines.append(f"op {i} cannot follow state {w.state_text}")
            continue
        lines.append(
            f"op {op.id} (client {op.client}) {safe_describe(describe, op)} cannot follow state {w.state_text}"
        )
        lines.append(f"  {line(op)}")
        lines.append(f"    expected: {expected.get(i, f'a result consistent with state {w.state_text}')}")
        lines.append(f"    observed: {safe_describe(describe, op)}")
        last = [by_id[j] for j in w.prefix[-2:] if j in by_id]
        for p in last:
            lines.append(f"    linearized before it: {line(p)}")
        for o in overlapping(op, ops, 2):
            if o.id not in w.prefix[-2:]:
                lines.append(f"    concurrent: {line(o)}")
    if len(w.stuck) > limit:
        lines.append(
            f"and {len(w.stuck) - limit} more operations that cannot be placed: {w.stuck[limit:][:10]}"
        )
    return lines


def _anomaly_lines(
    a: Anomaly,
    by_id: dict[int, OpLike],
    describe: Describe,
    line: Callable[[OpLike], str],
    limit: int,
    writers: list[tuple[int, int]],
) -> list[str]:
    lines = [f"[{a.kind}] {a.message}"]
    for i in a.ops[:limit]:
        op = by_id.get(i)
        lines.append(f"  {line(op)}" if op is not None else f"  op {i}")
    if len(a.ops) > limit:
        lines.append(f"  and {len(a.ops) - limit} more operations")
    if a.watch is not None:
        lines.append(f"  watch stream {a.watch}")
    if a.members:
        lines.append(f"  members: {', '.join(a.members)}")
    details = a.details
    known = details.get("known_bug")
    if isinstance(known, dict):
        lines.append(
            f"  known etcd bug {known.get('id')} (fixed in {known.get('fixed_in')}): {known.get('title')}"
        )
    if "expected" in details or "observed" in details:
        subject = by_id.get(a.ops[0]) if len(a.ops) == 1 else None
        lines.append(f"    expected: {value_text(details.get('expected'), subject, describe)}")
        lines.append(f"    observed: {value_text(details.get('observed'), subject, describe)}")
    for rev, w in writers:
        op = by_id.get(w)
        if op is not None:
            lines.append(f"    revision {rev} was written by {line(op)}")
    return lines


def value_text(value: Any, op: OpLike | None, describe: Describe) -> str:
    """An expected/observed output in the model's words when it belongs to a known op."""
    if op is not None and isinstance(value, dict):
        try:
            return describe(op.input, value)
        except Exception:  # fall back to the raw value
            pass
    return _short(value)


def _short(value: Any, width: int = 160) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
