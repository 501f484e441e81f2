"""Linearizability checking: the Wing-Gong/Lowe search, as porcupine does it.

The history becomes a doubly linked list of call and return entries in time order. The
search repeatedly tries to linearize an operation whose call comes before the first
remaining return; when a return is reached whose operation is not linearized yet, it
backtracks. Every (linearized set, state) pair is tried once (memoization), which is what
makes the search practical. Models that offer ``partition`` are checked one independent
sub-history at a time (P-compositionality).

Unknown outcomes never return: their return entry sits at infinity, so such an operation
may be linearized anywhere after its call, including after everything else, which is the
same as never having happened.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from models.anomaly import Anomaly
from models.model import Model
from models.operation import INFINITY, Operation
from models.verdict import Outcome, Verdict, Witness

#: A cache entry costs ~150 bytes plus the state; the default keeps the search well under
#: a gigabyte and turns a search that would need more into an ``unknown`` verdict.
DEFAULT_MAX_STATES = 4_000_000

_SLICE = 2048
#: How many sets of used optional operations are remembered per (definite set, state).
_DOMINANCE_WIDTH = 8


@dataclass
class PartitionResult:
    index: int
    verdict: Outcome
    ops: int
    linearization: list[int] | None = None
    witness: Witness | None = None
    explored: int = 0


class _Budget:
    def __init__(self, timeout: float | None, max_states: int):
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.max_states = max_states
        self.reason = ""

    def expired(self) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.reason = "time budget exhausted"
            return True
        return False


def check(
    model: Model,
    ops: Sequence[Operation],
    *,
    timeout: float | None = None,
    max_states: int = DEFAULT_MAX_STATES,
) -> Verdict:
    """Decide whether ``ops`` is linearizable with respect to ``model``.

    Operations with status ``fail`` are dropped first: they definitely had no effect
    and carry no observation. The result is deterministic for a given history.
    """
    started = time.monotonic()
    kept = [op for op in ops if op.status != "fail"]
    budget = _Budget(timeout, max_states)
    parts = model.partition(kept)
    searches = {i: _search(model, i, part, budget) for i, part in enumerate(parts)}
    done: dict[int, PartitionResult] = {}
    outcome: Outcome = "ok"
    # Round-robin slices: deterministic, and the cheapest refutation ends the check.
    while searches and outcome == "ok":
        for i in list(searches):
            res = next(searches[i])
            if res is None:
                continue
            del searches[i]
            done[i] = res
            if res.verdict != "ok":
                outcome = res.verdict
                break
    results = [done[i] for i in sorted(done)]
    return _verdict(model, outcome, kept, results, budget, time.monotonic() - started)


def _verdict(
    model: Model,
    outcome: Outcome,
    kept: list[Operation],
    results: list[PartitionResult],
    budget: _Budget,
    elapsed: float,
) -> Verdict:
    witness = next((p.witness for p in results if p.witness is not None), None)
    anomalies: list[Anomaly] = []
    if outcome == "ok":
        witness = Witness(order=[p.linearization or [] for p in results])
    elif witness is not None:
        messages = witness.explanations or [f"op {i} cannot be placed" for i in witness.stuck]
        anomalies.append(
            Anomaly(
                "non-linearizable",
                "; ".join(messages),
                list(witness.stuck),
                details={
                    "prefix_length": len(witness.prefix),
                    "state": witness.state_text,
                    "partition": witness.partition,
                },
            )
        )
    stats = {
        "ops": len(kept),
        "partitions": [{"verdict": p.verdict, "ops": p.ops, "explored": p.explored} for p in results],
    }
    return Verdict(
        outcome,
        model.name,
        anomalies,
        reason=budget.reason if outcome == "unknown" else "",
        stats=stats,
        witness=witness,
        elapsed=elapsed,
    )


def _entries(ops: Sequence[Operation]) -> list[int]:
    """Entry codes in time order: ``2*i`` is op i's call, ``2*i+1`` its return.

    At equal times calls sort before returns, so operations that touch in time count as
    concurrent, which is the permissive (no false alarm) reading of equal timestamps.
    """
    keyed = []
    for i, op in enumerate(ops):
        keyed.append((op.call, 0, op.id, 2 * i))
        keyed.append((op.effective_return, 1, op.id, 2 * i + 1))
    keyed.sort()
    return [k[3] for k in keyed]


def _search(
    model: Model, index: int, ops: list[Operation], budget: _Budget
) -> Iterator[PartitionResult | None]:
    """The search for one partition, yielding ``None`` every ``_SLICE`` steps.

    Being a generator lets ``check`` interleave partitions deterministically, so one
    cheap refutation is found without first finishing an expensive partition, which is
    what porcupine gets from running partitions in parallel.

    Unknown-outcome operations are optional: one may always be placed after everything
    else, i.e. never. Two prunings follow from that, both sound: (1) such an operation
    is not linearized where it would leave the state unchanged; (2) a configuration is
    skipped when one with the same definite operations, the same state and a subset of
    the optional operations already used was explored, since that one had every option
    this one has.
    """
    n = len(ops)
    if n == 0:
        yield PartitionResult(index=index, verdict="ok", ops=0, linearization=[])
        return
    inputs = [op.input for op in ops]
    outputs = [None if op.status == "unknown" else op.output for op in ops]
    optional = [op.effective_return == INFINITY for op in ops]
    observes_only = getattr(model, "observes_only", lambda _input, _output: False)
    observer = [not optional[i] and bool(observes_only(inputs[i], outputs[i])) for i in range(n)]
    step: Callable[[Any, Any, Any], tuple[bool, Any]] = model.step

    order = _entries(ops)
    head = 2 * n
    nxt = [-1] * (2 * n + 1)
    prv = [-1] * (2 * n + 1)
    last = head
    for e in order:
        nxt[last] = e
        prv[e] = last
        last = e

    state = model.init()
    required = sum(1 for o in optional if not o)
    dbits = 0
    ubits = 0
    placed_required = 0
    visited: set[tuple[int, int, Any]] = set()
    dominators: dict[tuple[int, Any], list[int]] = {}
    twin = _twins(ops, optional)
    any_optional = any(optional)
    size = 0
    stack: list[tuple[int, Any]] = []
    best: list[int] = []
    explored = 0
    entry = nxt[head]
    max_states = budget.max_states

    countdown = _SLICE
    while placed_required < required:
        countdown -= 1
        if countdown == 0:
            countdown = _SLICE
            explored += _SLICE
            if budget.expired():
                yield PartitionResult(
                    index=index, verdict="unknown", ops=n, explored=explored + _SLICE - countdown
                )
                return
            yield None
        if entry & 1 == 0:
            i = entry >> 1
            ok, new_state = step(state, inputs[i], outputs[i])
            if ok and optional[i] and (new_state == state or (twin[i] >= 0 and not ubits >> twin[i] & 1)):
                ok = False
            if ok:
                if optional[i]:
                    nd, nu = dbits, ubits | (1 << i)
                else:
                    nd, nu = dbits | (1 << i), ubits
                if not any_optional:
                    full = (nd, 0, new_state)
                    novel = full not in visited
                    if novel:
                        visited.add(full)
                elif (full := (nd, nu, new_state)) in visited:
                    novel = False
                else:
                    key = (nd, new_state)
                    seen = dominators.get(key)
                    if seen is None:
                        dominators[key] = [nu]
                        novel = True
                    else:
                        novel = not any(u & ~nu == 0 for u in seen)
                        if novel and len(seen) < _DOMINANCE_WIDTH:
                            seen.append(nu)
                    if novel:
                        visited.add(full)
                if novel:
                    size += 1
                    if size >= max_states:
                        budget.reason = f"memory budget exhausted ({max_states} states)"
                        yield PartitionResult(
                            index=index, verdict="unknown", ops=n, explored=explored + _SLICE - countdown
                        )
                        return
                    stack.append((entry, state))
                    state = new_state
                    dbits, ubits = nd, nu
                    if not optional[i]:
                        placed_required += 1
                    ret = entry + 1
                    p, q = prv[entry], nxt[entry]
                    nxt[p] = q
                    if q != -1:
                        prv[q] = p
                    p, q = prv[ret], nxt[ret]
                    nxt[p] = q
                    if q != -1:
                        prv[q] = p
                    if len(stack) > len(best):
                        best = [e >> 1 for e, _ in stack]
                    entry = nxt[head]
                    continue
            entry = nxt[entry]
        else:
            # Backtrack. A required op that changes no state it is legal in (a read, a
            # failed cas) was placed as early as possible, which dominates placing it
            # later, so its siblings need no try: keep popping past such ops.
            while True:
                if not stack:
                    witness = _witness(model, index, ops, best)
                    yield PartitionResult(
                        index=index,
                        verdict="illegal",
                        ops=n,
                        witness=witness,
                        explored=explored + _SLICE - countdown,
                    )
                    return
                top, before = stack.pop()
                i = top >> 1
                preserved = observer[i]
                state = before
                if optional[i]:
                    ubits &= ~(1 << i)
                else:
                    dbits &= ~(1 << i)
                    placed_required -= 1
                ret = top + 1
                p, q = prv[ret], nxt[ret]
                nxt[p] = ret
                if q != -1:
                    prv[q] = ret
                p, q = prv[top], nxt[top]
                nxt[p] = top
                if q != -1:
                    prv[q] = top
                if not preserved:
                    break
            entry = nxt[top]
    yield PartitionResult(
        index=index,
        verdict="ok",
        ops=n,
        linearization=[ops[e >> 1].id for e, _ in stack],
        explored=explored + _SLICE - countdown,
    )


def _twins(ops: list[Operation], optional: list[bool]) -> list[int]:
    """For each optional op, the previous optional op with the same input (or -1).

    Identical optional operations are interchangeable, so the search only ever uses the
    earliest-called unused one; this removes the factorial blow-up of repeated writes.
    """
    last: dict[str, int] = {}
    twin = [-1] * len(ops)
    for i in sorted(range(len(ops)), key=lambda j: (ops[j].call, ops[j].id)):
        if not optional[i]:
            continue
        key = json.dumps(ops[i].input, sort_keys=True, default=repr)
        twin[i] = last.get(key, -1)
        last[key] = i
    return twin


def _witness(model: Model, index: int, ops: list[Operation], best: list[int]) -> Witness:
    """Replay the longest prefix and name the operations that cannot follow it."""
    state = model.init()
    for i in best:
        _, state = model.step(state, ops[i].input, None if ops[i].status == "unknown" else ops[i].output)
    placed = set(best)
    rest = [i for i in range(len(ops)) if i not in placed]
    stuck: list[int] = []
    explanations: list[str] = []
    if rest:
        first_return = min(ops[i].effective_return for i in rest)
        candidates = sorted(
            (i for i in rest if ops[i].call <= first_return),
            key=lambda i: (ops[i].effective_return, ops[i].call, ops[i].id),
        )
        for i in candidates:
            op = ops[i]
            ok, _ = model.step(state, op.input, None if op.status == "unknown" else op.output)
            if not ok:
                stuck.append(op.id)
                explanations.append(
                    f"op {op.id} (client {op.client}) {model.describe_operation(op.input, op.output)}"
                    f" cannot follow state {model.describe_state(state)}"
                )
        if not stuck and candidates:
            stuck.append(ops[candidates[0]].id)
    return Witness(
        partition=index,
        prefix=[ops[i].id for i in best],
        state=state,
        state_text=model.describe_state(state),
        stuck=stuck,
        explanations=explanations,
    )
