"""The shrink loop: greedy ddmin over a plan's lists and halving of its numbers, each
candidate tried up to ``tries`` times, the whole within a time budget.

The reproducer is a parameter (``reproduce(plan, label) -> Trial``) so the loop is
tested with fakes, without etcd. A candidate is kept as soon as one try reproduces; a
flaky bug may therefore keep a plan that fails rarely, which is why the final plan's
rate is measured afterwards and reported. The budget is checked before every run, with
room left for that measurement; the best plan so far is kept whatever stops the loop.
The original plan is rerun first: one that does not fail once in ``tries`` runs is not
shrunk, since every candidate would fail for the same reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.shrink.candidates import REDUCERS, ListPart, Reducer, Size, chunk_removals, list_parts, size
from harness.signals import signal_of
from harness.traffic.plan import Plan


@dataclass
class Trial:
    """One run of a candidate: did it show the anomaly, and where it left its files."""

    reproduced: bool
    run_dir: Path | None = None
    ops: int | None = None
    note: str = ""
    seconds: float = 0.0


Reproduce = Callable[[Plan, str], Trial]


@dataclass
class Event:
    """What the display is told after every run."""

    label: str
    part: str
    attempt: int
    trial: Trial
    candidates: int
    runs: int
    best: Size
    best_ops: int | None
    elapsed: float
    budget: float
    phase: str = "shrink"


@dataclass
class Outcome:
    original: Plan
    best: Plan
    #: The run that showed the anomaly on ``best`` (None: no candidate reproduced).
    best_trial: Trial | None
    candidates: int
    runs: int
    #: "done" (nothing smaller reproduces), "budget", "interrupted", or "unreproduced"
    #: (the original plan did not fail once in ``tries`` runs).
    stopped: str
    elapsed: float
    #: Of the extra runs of ``best`` after the search: (reproduced, runs).
    rate: tuple[int, int] | None = None
    rate_trials: list[Trial] = field(default_factory=list)
    #: Parts and reducers that made the plan smaller, in order.
    kept: list[str] = field(default_factory=list)
    #: The signal that stopped the shrink, when ``stopped`` is "interrupted".
    signal: int | None = None


class OutOfBudget(Exception):
    pass


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-")


class Search:
    def __init__(
        self,
        plan: Plan,
        reproduce: Reproduce,
        *,
        tries: int = 3,
        budget: float = 1800.0,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[Event], None] | None = None,
        only: Iterable[str] | None = None,
        verify: bool = True,
    ):
        if tries < 1:
            raise ValueError("tries must be at least 1")
        self.original = self.best = plan
        self.reproduce = reproduce
        self.tries = tries
        self.budget = budget
        self.clock = clock
        self.on_event = on_event
        self.only = set(only) if only is not None else None
        self.verify = verify
        self.best_trial: Trial | None = None
        self.candidates = 0
        self.runs = 0
        self.kept: list[str] = []
        self.seen: set[bytes] = set()
        self.started = clock()
        #: Seconds per second of planned duration, from the runs so far.
        self.cost = 0.0

    def run(self) -> Outcome:
        stopped = "done"
        try:
            if self.verify and not self._try("original", self.original):
                # Not once in ``tries`` runs: a shrink would only measure noise.
                out = self._outcome("unreproduced")
                out.rate = (0, self.runs)
                return out
            self._passes()
        except OutOfBudget:
            stopped = "budget"
        except KeyboardInterrupt as exc:
            out = self._outcome("interrupted")
            out.signal = signal_of(exc)
            return out
        out = self._outcome(stopped)
        try:
            self._measure(out)
        except KeyboardInterrupt as exc:
            out.stopped, out.signal = "interrupted", signal_of(exc)
        return out

    def _outcome(self, stopped: str) -> Outcome:
        return Outcome(
            original=self.original,
            best=self.best,
            best_trial=self.best_trial,
            candidates=self.candidates,
            runs=self.runs,
            stopped=stopped,
            elapsed=self.clock() - self.started,
            kept=list(self.kept),
        )

    def _steps(self) -> list[Reducer | ListPart]:
        by_name: dict[str, Reducer | ListPart] = {r.name: r for r in REDUCERS}
        by_name.update({p.name: p for p in list_parts(self.best)})
        order = ["duration", "faults", "fault times", "fault lengths", "clients", "watchers", "members"]
        steps = [by_name[n] for n in order]
        steps += [p for p in list_parts(self.best) if p.group == "programs"]
        steps.append(by_name["value size"])
        return [s for s in steps if self.only is None or (getattr(s, "group", "") or s.name) in self.only]

    def _passes(self) -> None:
        """Every step once, again while a pass still made the plan smaller."""
        while True:
            kept = len(self.kept)
            for step in self._steps():
                if isinstance(step, Reducer):
                    self._reduce(step)
                else:
                    self._ddmin(step)
            if len(self.kept) == kept:
                return

    def _reduce(self, reducer: Reducer) -> None:
        while any(self._try(reducer.name, p) for p in reducer.offer(self.best)):
            pass

    def _ddmin(self, part: ListPart) -> None:
        """ddmin by complements: drop one of ``n`` chunks; after a success go coarser,
        after none go finer, down to single items."""
        n = 2
        while True:
            items = part.get(self.best)
            if len(items) <= part.minimum:
                return
            if any(
                self._try(part.name, part.put(self.best, rest))
                for rest in chunk_removals(items, n, part.minimum)
            ):
                n = max(n - 1, 2)
            elif n >= len(items):
                return
            else:
                n = min(2 * n, len(items))

    def _try(self, part: str, plan: Plan) -> bool:
        key = plan.to_json()
        if key in self.seen:
            return False
        self.seen.add(key)
        self.candidates += 1
        for attempt in range(1, self.tries + 1):
            self._check_budget(plan, reserve=self.tries)
            label = f"{self.candidates:04d}-{_slug(part)}-try{attempt}"
            trial = self._run(plan, label)
            if trial.reproduced:
                self.best, self.best_trial = plan, trial
                if plan is not self.original:
                    self.kept.append(part)
            self._emit(label, part, attempt, trial)
            if trial.reproduced:
                return True
        return False

    def _run(self, plan: Plan, label: str) -> Trial:
        self.runs += 1
        start = self.clock()
        trial = self.reproduce(plan, label)
        trial.seconds = self.clock() - start
        self.cost = max(self.cost, trial.seconds / max(plan.duration, 0.1))
        return trial

    def _estimate(self, plan: Plan) -> float:
        return self.cost * plan.duration

    def _check_budget(self, plan: Plan, reserve: int) -> None:
        """Room for this run and, after it, ``reserve`` runs of the best plan to measure
        its rate."""
        elapsed = self.clock() - self.started
        if elapsed + self._estimate(plan) + reserve * self._estimate(self.best) > self.budget:
            raise OutOfBudget

    def _emit(self, label: str, part: str, attempt: int, trial: Trial, phase: str = "shrink") -> None:
        if self.on_event is None:
            return
        best_ops = self.best_trial.ops if self.best_trial is not None else None
        self.on_event(
            Event(
                label=label,
                part=part,
                attempt=attempt,
                trial=trial,
                candidates=self.candidates,
                runs=self.runs,
                best=size(self.best),
                best_ops=best_ops,
                elapsed=self.clock() - self.started,
                budget=self.budget,
                phase=phase,
            )
        )

    def _measure(self, out: Outcome) -> None:
        """Run the final plan ``tries`` more times, as the budget allows."""
        hits = 0
        for i in range(1, self.tries + 1):
            try:
                self._check_budget(self.best, reserve=0)
            except OutOfBudget:
                break
            label = f"rate-{i}"
            trial = self._run(self.best, label)
            out.rate_trials.append(trial)
            hits += trial.reproduced
            if trial.reproduced and self.best_trial is None:
                self.best_trial = out.best_trial = trial
            self._emit(label, "rate", i, trial, "rate")
        out.rate = (hits, len(out.rate_trials))
        out.runs = self.runs
        out.elapsed = self.clock() - self.started


def shrink(plan: Plan, reproduce: Reproduce, **kwargs: object) -> Outcome:
    return Search(plan, reproduce, **kwargs).run()  # type: ignore[arg-type]
