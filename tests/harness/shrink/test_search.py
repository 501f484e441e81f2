"""The shrink loop against fake reproducers: where it converges, and how it keeps to
its tries and budget."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable

import pytest

from harness.shrink.search import Search, Trial
from harness.traffic.plan import Plan, make_plan
from scenarios import get_scenario

PLAN = make_plan(get_scenario("watch-compaction"), 11)
KEY_CLIENTS = {3, 12}
KEY_TEMPLATE = PLAN.clients[3].program[2]
KEY_WATCHER = 4
KEY_FAULT = PLAN.faults[len(PLAN.faults) // 2].pick
NEEDS_SECONDS = 4.0


def culprit(plan: Plan) -> bool:
    """The known minimal failure: two clients (one with one given template), one
    watcher, one fault (known by its pick) and four seconds of traffic."""
    clients = {c.client: c for c in plan.clients}
    return (
        clients.keys() >= KEY_CLIENTS
        and KEY_TEMPLATE in clients[3].program
        and any(w.watcher == KEY_WATCHER for w in plan.watchers)
        and any(f.pick == KEY_FAULT for f in plan.faults)
        and plan.duration >= NEEDS_SECONDS
    )


class Fake:
    """A reproducer on a fake clock: each run takes as long as the plan's duration."""

    def __init__(self, outcome: Callable[[Plan, int], bool]):
        self.outcome = outcome
        self.now = 0.0
        self.calls: list[str] = []

    def clock(self) -> float:
        return self.now

    def __call__(self, plan: Plan, label: str) -> Trial:
        self.calls.append(label)
        self.now += plan.duration
        return Trial(self.outcome(plan, len(self.calls)), ops=len(plan.clients) * 10)


def test_converges_to_the_known_minimal_plan() -> None:
    fake = Fake(lambda plan, _: culprit(plan))
    out = Search(PLAN, fake, tries=1, budget=1e9, clock=fake.clock).run()
    best = out.best
    assert out.stopped == "done"
    assert {c.client for c in best.clients} == KEY_CLIENTS
    assert [len(c.program) for c in best.clients] == [1, 1]
    assert next(c for c in best.clients if c.client == 3).program == [KEY_TEMPLATE]
    assert [w.watcher for w in best.watchers] == [KEY_WATCHER]
    assert [f.pick for f in best.faults] == [KEY_FAULT]
    assert best.members == 3
    assert NEEDS_SECONDS <= best.duration < 2 * NEEDS_SECONDS
    assert best.faults[0].at == 1.0
    assert out.rate == (1, 1)
    assert len(set(fake.calls)) == len(fake.calls), "every run has a directory of its own"


def third_time_lucky() -> Callable[[Plan, int], bool]:
    """A flaky bug: a failing plan shows it on its third run only."""
    seen: Counter[bytes] = Counter()

    def outcome(plan: Plan, _: int) -> bool:
        seen[plan.to_json()] += 1
        return culprit(plan) and seen[plan.to_json()] % 3 == 0

    return outcome


def test_flaky_bug_is_found_on_a_later_try() -> None:
    fake = Fake(third_time_lucky())
    out = Search(PLAN, fake, tries=3, budget=1e9, clock=fake.clock).run()
    assert {c.client for c in out.best.clients} == KEY_CLIENTS
    assert [w.watcher for w in out.best.watchers] == [KEY_WATCHER]
    assert [f.pick for f in out.best.faults] == [KEY_FAULT]
    assert out.rate == (1, 3)
    too_few = Fake(third_time_lucky())
    kept = Search(PLAN, too_few, tries=2, budget=1e9, clock=too_few.clock).run()
    assert kept.best == PLAN and kept.best_trial is None


def test_each_candidate_gets_exactly_tries_runs_when_nothing_smaller_reproduces() -> None:
    fake = Fake(lambda plan, _: plan == PLAN)
    out = Search(PLAN, fake, tries=3, budget=1e9, clock=fake.clock).run()
    assert out.stopped == "done" and out.best == PLAN
    assert fake.calls[0] == "0001-original-try1"
    assert out.runs == 1 + 3 * (out.candidates - 1) + 3
    assert all(label.endswith(("-try1", "-try2", "-try3")) for label in fake.calls[:-3])
    assert out.rate == (3, 3)


def test_an_original_that_never_fails_is_not_shrunk() -> None:
    fake = Fake(lambda plan, _: False)
    out = Search(PLAN, fake, tries=3, budget=1e9, clock=fake.clock).run()
    assert out.stopped == "unreproduced" and out.best_trial is None
    assert fake.calls == ["0001-original-try1", "0001-original-try2", "0001-original-try3"]
    assert out.rate == (0, 3)


def unlimited_seconds() -> float:
    fake = Fake(lambda plan, _: culprit(plan))
    Search(PLAN, fake, tries=2, budget=1e9, clock=fake.clock).run()
    return fake.now


@pytest.mark.parametrize("share", [0.1, 0.4, 0.8])
def test_stops_within_budget_keeping_the_best_and_measuring_it(share: float) -> None:
    budget = share * unlimited_seconds()
    fake = Fake(lambda plan, _: culprit(plan))
    out = Search(PLAN, fake, tries=2, budget=budget, clock=fake.clock).run()
    assert out.stopped == "budget"
    assert fake.now <= budget
    assert culprit(out.best) and out.best != PLAN
    assert out.rate == (2, 2), "room is kept to measure the best plan"


def test_reports_the_rate_of_the_final_plan() -> None:
    scripted = [True, True, False, True, False]
    fake = Fake(lambda plan, n: scripted[n - 1])
    # Nothing to cut in values: the original's run, then the four that measure the rate.
    out = Search(PLAN, fake, tries=4, budget=1e9, clock=fake.clock, only={"value size"}).run()
    assert out.candidates == 1 and out.rate == (2, 4)
    assert out.best_trial is not None and out.best == PLAN


def test_ctrl_c_keeps_the_best_so_far() -> None:
    def outcome(plan: Plan, n: int) -> bool:
        if n == 6:
            raise KeyboardInterrupt
        return culprit(plan)

    fake = Fake(outcome)
    out = Search(PLAN, fake, tries=1, budget=1e9, clock=fake.clock).run()
    assert out.stopped == "interrupted" and out.signal == signal.SIGINT
    assert out.best != PLAN and culprit(out.best)
    assert out.rate is None
