"""Linearizability checking: the Wing-Gong/Lowe search, as porcupine does it.

The history becomes doubly linked lists of call and return entries in time order. The
search repeatedly tries to linearize an operation whose call comes before the first
remaining return; when a return is reached whose operation is not linearized yet, it
backtracks. Every (linearized set, state) pair is tried once (memoization), which is what
makes the search practical. Models that offer ``partition`` are checked one independent
sub-history at a time (P-compositionality).

Unknown outcomes never return: their return entry sits at infinity, so such an operation
may be linearized anywhere after its call, including after everything else, which is the
same as never having happened. Two prunings follow from that, both sound: (1) such an
operation is not linearized where it would leave the state unchanged; (2) a
configuration is skipped when one with the same definite operations, the same state and
a subset of the optional operations already used was explored, since that one had every
option this one has. Identical optional operations are used in
call order only (:func:`_twins`).

At each point the definite candidates are tried before the optional ones: those have a
list of their own, scanned when the scan of the definite list meets its first return
(the ones called before that return are the candidates, as they were in one list). Only
the order changes, so no verdict can. It matters because of (2): an unknown op is then
placed only where nothing definite worked, so the configuration without it has been
explored and the ones that merely add it are dominated (Jepsen's etcd_002: 2.7k steps
instead of 188k, with half its writes unknown).

A model may offer a pruner (:meth:`~models.model.Model.pruner`), asked about each
configuration the search reaches. REFUTED skips the configuration like one whose search
failed: sound, since the model vouches that nothing completes it. When the op just
placed only observes, the configuration before it is dead too (any completion of it
could place that op first, where it is legal and changes nothing), so the search
backtracks at once, as at the end of the candidates. A state the pruner gives back
instead replaces the step's: the same orders are legal from it, so the memo may merge
configurations that differ only in what nobody can observe any more, and whatever
order the search finds from it is a linearization from the real state too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from models.anomaly import Anomaly
from models.model import REFUTED, Model, Pruner
from models.operation import INFINITY, Operation
from models.verdict import Outcome, Verdict, Witness

#: A cache entry costs ~150 bytes plus the state; the default keeps the search well under
#: a gigabyte and turns a search that would need more into an ``unknown`` verdict.
DEFAULT_MAX_STATES = 4_000_000

_SLICE = 256
_SLICE_MASK = _SLICE - 1  # _SLICE is a power of two: the check costs one AND a step
#: The next of a list's last entry: even, so not taken for a return, and negative.
_END = -2
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

    def out_of_memory(self, index: int, n: int, explored: int) -> PartitionResult:
        self.reason = f"memory budget exhausted ({self.max_states} states)"
        return PartitionResult(index, "unknown", n, explored=explored)

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
    """One partition's search, yielding ``None`` every ``_SLICE`` steps so that ``check``
    interleaves partitions (see the module docstring); the hot loop keeps its state in locals."""
    inputs, outputs, optional, observer, twin, pruner, (nxt, prv, pos, head, pending) = _prepare(model, ops)
    step: Callable[[Any, Any, Any], tuple[bool, Any]] = model.step
    prune = None if pruner is None else pruner.prune
    visited: set[tuple[int, int, Any]] = set()
    dominators: dict[tuple[int, Any], list[int]] = {}
    any_optional, state, required = any(optional), model.init(), sum(1 for o in optional if not o)
    dbits = ubits = placed_required = steps = 0
    stack: list[tuple[int, Any, int, int, int, int]] = []
    best: list[int] = []
    refuted = (-1, -1)
    entry, limit, unlimited, max_states, mask = nxt[head], len(pos), len(pos), budget.max_states, _SLICE_MASK
    while placed_required < required:
        steps += 1
        if not steps & mask:
            if budget.expired():
                yield PartitionResult(index, "unknown", len(ops), explored=steps)
                return
            yield None
        if entry & 1:  # the first return: then the optional ops called before it
            limit, entry = pos[entry], nxt[pending]
        if entry < 0 or pos[entry] > limit:  # backtrack; past an op that only observes, no sibling
            deep = refuted[0] == len(stack)  # the deepest prefix is copied once, when left
            if len(stack) + deep > len(best):
                best = [f[0] >> 1 for f in stack] + [refuted[1]] * deep
            refuted = (-1, -1)
            while stack:
                top, state, limit, dbits, ubits, placed_required = stack.pop()
                p, q = prv[top + 1], nxt[top + 1]  # the return and the call back into the list
                nxt[p], prv[q] = top + 1, top + 1
                p, q = prv[top], nxt[top]
                nxt[p], prv[q] = top, top
                if not observer[top >> 1]:
                    break
            else:
                yield _refuted(model, pruner, index, ops, best, steps)
                return
            entry = nxt[top]
            continue
        i = entry >> 1
        ok, new_state = step(state, inputs[i], outputs[i])
        if not ok or (optional[i] and (new_state == state or (twin[i] >= 0 and not ubits >> twin[i] & 1))):
            entry = nxt[entry]
            continue
        if optional[i]:
            nd, nu = dbits, ubits | (1 << i)
        else:
            nd, nu = dbits | (1 << i), ubits
        if prune is not None and (new_state := prune(new_state, nd | nu)) is REFUTED:
            refuted = (len(stack), i)
            entry = _END if observer[i] else nxt[entry]
            continue
        full = (nd, nu, new_state)
        if full in visited or (any_optional and _dominated(dominators, nd, nu, new_state)):
            entry = nxt[entry]
            continue
        visited.add(full)
        if len(visited) >= max_states:
            yield budget.out_of_memory(index, len(ops), steps)
            return
        stack.append((entry, state, limit, dbits, ubits, placed_required))
        state, dbits, ubits, limit = new_state, nd, nu, unlimited
        placed_required += not optional[i]
        p, q = prv[entry], nxt[entry]  # the call and the return out of the list
        nxt[p], prv[q] = q, p
        p, q = prv[entry + 1], nxt[entry + 1]
        nxt[p], prv[q] = q, p
        entry = nxt[head]
    linearization = [ops[f[0] >> 1].id for f in stack]
    yield PartitionResult(index, "ok", len(ops), linearization=linearization, explored=steps)


_Links = tuple[list[int], list[int], list[int], int, int]


def _prepare(
    model: Model, ops: list[Operation]
) -> tuple[list[Any], list[Any], list[bool], list[bool], list[int], Pruner | None, _Links]:
    """The search's columns, the model's pruner and its lists of entries (:func:`_linked`)."""
    inputs, outputs, optional, observer, twin = _columns(model, ops)
    pruner: Pruner | None = getattr(model, "pruner", lambda _ops: None)(ops)
    return inputs, outputs, optional, observer, twin, pruner, _linked(_entries(ops), optional)


def _columns(
    model: Model, ops: list[Operation]
) -> tuple[list[Any], list[Any], list[bool], list[bool], list[int]]:
    """Per operation: input, output (None when unknown), optional (never returns),
    whether it only observes (placed as early as it fits, never later), and its twin."""
    inputs = [op.input for op in ops]
    outputs = [None if op.status == "unknown" else op.output for op in ops]
    optional = [op.effective_return == INFINITY for op in ops]
    observes_only = getattr(model, "observes_only", lambda _input, _output: False)
    observer = [not optional[i] and bool(observes_only(inputs[i], outputs[i])) for i in range(len(ops))]
    return inputs, outputs, optional, observer, _twins(ops, optional)


def _linked(order: list[int], optional: list[bool]) -> _Links:
    """Two doubly linked lists in time order (next, previous, position in time, heads):
    the calls and returns of the definite ops, and the calls of the optional ones, whose
    returns are in no list. Each list ends in ``_END``, whose slot (index -2) takes the
    writes of relinking a last entry or a return in no list: the search relinks without
    a branch."""
    n = len(optional)
    head, pending = 2 * n, 2 * n + 1
    nxt, prv, pos = [_END] * (2 * n + 4), [_END] * (2 * n + 4), [0] * (2 * n)
    last = [head, pending]
    for at, e in enumerate(order):
        pos[e] = at
        if not (e & 1 and optional[e >> 1]):
            kind = optional[e >> 1]
            nxt[last[kind]], prv[e], last[kind] = e, last[kind], e
    return nxt, prv, pos, head, pending


def _dominated(dominators: dict[tuple[int, Any], list[int]], nd: int, nu: int, state: Any) -> bool:
    """Whether a configuration with the same definite operations and state but a subset
    ``u`` of the optional operations ``nu`` was explored: it had every option this one has.
    Records ``nu`` otherwise (a few per (definite set, state))."""
    seen = dominators.get(key := (nd, state))
    if seen is None:
        dominators[key] = [nu]
        return False
    if any(u & ~nu == 0 for u in seen):
        return True
    if len(seen) < _DOMINANCE_WIDTH:
        seen.append(nu)
    return False


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


def _refuted(
    model: Model, pruner: Pruner | None, index: int, ops: list[Operation], best: list[int], steps: int
) -> PartitionResult:
    witness = _witness(model, pruner, index, ops, best)
    return PartitionResult(index, "illegal", len(ops), witness=witness, explored=steps)


def _witness(
    model: Model, pruner: Pruner | None, index: int, ops: list[Operation], best: list[int]
) -> Witness:
    """Replay the longest prefix and name the operations that cannot follow it: those
    that cannot be placed next, else those the pruner could not explain (it refuted the
    prefix's last step)."""
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
        for i in [] if stuck or pruner is None else pruner.blame(state, sum(1 << i for i in best)):
            stuck.append(ops[i].id)
            explanations.append(
                f"op {ops[i].id} (client {ops[i].client}) {model.describe_operation(ops[i].input, ops[i].output)}"
                f" can follow neither state {model.describe_state(state)} nor any the other ops make of it"
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
