"""What a pruned search is held to: the verdict of the same search without the model's
pruner (and of the definition, on the smallest histories), and, when it says ok, an
order that really is a linearization."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import Any

from models.model import REFUTED, Model, Pruner
from models.operation import INFINITY, Operation
from models.verdict import Verdict


class Unpruned:
    """The model with its pruner taken away: the search every pruning must agree with."""

    def __init__(self, model: Any):
        self._model = model

    def pruner(self, ops: Sequence[Operation]) -> Pruner | None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class Counting:
    """The model, counting what its pruner answered: tests show the pruning fired."""

    def __init__(self, model: Any):
        self._model = model
        self.refuted = 0
        self.replaced = 0

    def pruner(self, ops: Sequence[Operation]) -> Pruner | None:
        inner = self._model.pruner(ops)
        return None if inner is None else _Counted(self, inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class _Counted:
    def __init__(self, counts: Counting, inner: Pruner):
        self.counts, self.inner = counts, inner

    def prune(self, state: Any, placed: int) -> Any:
        answer = self.inner.prune(state, placed)
        if answer is REFUTED:
            self.counts.refuted += 1
        elif answer != state:
            self.counts.replaced += 1
        return answer

    def blame(self, state: Any, placed: int) -> list[int]:
        return self.inner.blame(state, placed)


def brute_force(model: Model, ops: list[Operation]) -> bool:
    """Every order of every admissible subset: the definition of linearizability, slowly.
    An op that never returned may be left out, whatever its status says."""
    ops = [o for o in ops if o.status != "fail"]
    required = [o for o in ops if o.effective_return != INFINITY]
    optional = [o for o in ops if o.effective_return == INFINITY]
    for k in range(len(optional) + 1):
        for chosen in itertools.combinations(optional, k):
            for order in itertools.permutations(required + list(chosen)):
                if not all(
                    not (b.effective_return < a.call) for x, a in enumerate(order) for b in order[x + 1 :]
                ):
                    continue
                state = model.init()
                for o in order:
                    ok, state = model.step(state, o.input, None if o.status == "unknown" else o.output)
                    if not ok:
                        break
                else:
                    return True
    return False


def assert_linearizes(model: Model, ops: list[Operation], verdict: Verdict) -> None:
    """The orders an ok verdict names hold every op that returned, respect real time, and
    are legal."""
    kept = {o.id: o for o in ops if o.status != "fail"}
    placed = [i for part in verdict.linearization or [] for i in part]
    assert {i for i, o in kept.items() if o.effective_return != INFINITY} <= set(placed)
    assert len(placed) == len(set(placed))
    for part in verdict.linearization or []:
        state = model.init()
        for x, i in enumerate(part):
            o = kept[i]
            assert all(not (kept[j].effective_return < o.call) for j in part[x + 1 :])
            ok, state = model.step(state, o.input, o.output if o.status == "ok" else None)
            assert ok, f"op {i} is not legal where the linearization places it"


def interval(rng: random.Random, free: list[int], now: int) -> tuple[int, int, int, int]:
    """(client, linearization point, call, return) of the next simulated op."""
    c = rng.randrange(len(free))
    point = max(now + rng.randint(1, 4), free[c])
    call = max(free[c], point - rng.randint(0, 8))
    ret = point + rng.randint(0, 8)
    free[c] = ret + 1
    return c, point, call, ret


def reference(model: Model, ops: list[Operation]) -> bool:
    """Linearizability as plainly as it can be searched: every op that may go next, from
    every (placed set, state) once; no other pruning, no order of candidates."""
    kept = [o for o in ops if o.status != "fail"]
    return all(_reference(model, part) for part in model.partition(kept))


def _reference(model: Model, ops: list[Operation]) -> bool:
    outputs = [None if o.status == "unknown" else o.output for o in ops]
    required = frozenset(i for i, o in enumerate(ops) if o.effective_return != INFINITY)
    seen: set[tuple[frozenset[int], Any]] = set()

    def completes(placed: frozenset[int], state: Any) -> bool:
        if required <= placed:
            return True
        if (placed, state) in seen:
            return False
        seen.add((placed, state))
        rest = [i for i in range(len(ops)) if i not in placed]
        horizon = min(ops[i].effective_return for i in rest)
        for i in rest:
            if ops[i].call <= horizon:
                ok, after = model.step(state, ops[i].input, outputs[i])
                if ok and completes(placed | {i}, after):
                    return True
        return False

    return completes(frozenset(), model.init())
