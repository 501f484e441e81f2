"""The search over distilled scripts against fake reproducers: first candidate that
reproduces, ddmin down to the writes that matter, tries, budget and the measured rate."""

from __future__ import annotations

from collections.abc import Callable

from harness.shrink.replay import ScriptSearch
from harness.shrink.script import Compact, Script, Watch, Write
from harness.shrink.search import Trial


def put(rev: int, key: str = "k") -> Write:
    return Write(rev, {"kind": "put", "key": key, "value": f"v{rev}", "prev_kv": False})


def script(revs: list[int], label: str = "all") -> Script:
    return Script(
        (*(put(r) for r in revs), Compact(revs[-1]), Watch(1, "k", None, revs[-1], until=None)), label
    )


class Fake:
    def __init__(self, outcome: Callable[[Script, int], bool]):
        self.outcome = outcome
        self.now = 0.0
        self.runs = 0

    def clock(self) -> float:
        return self.now

    def __call__(self, s: Script, label: str) -> Trial:
        self.runs += 1
        self.now += 3.0
        return Trial(self.outcome(s, self.runs), ops=len(s.steps))


def needs(*revs: int) -> Callable[[Script, int], bool]:
    return lambda s, _: {w.revision for w in s.writes} >= set(revs)


def test_ddmin_keeps_exactly_the_writes_the_failure_needs() -> None:
    fake = Fake(needs(17, 40))
    out = ScriptSearch(fake, tries=1, budget=1e9, clock=fake.clock).run([script(list(range(2, 60)))])
    assert out.best is not None
    assert [w.revision for w in out.best.writes] == [17, 40]
    assert out.rate == (1, 1)


def test_a_candidate_that_does_not_reproduce_gives_way_to_the_next() -> None:
    fake = Fake(needs(5))
    small, big = script([7, 9], "small"), script([3, 5, 7, 9], "big")
    out = ScriptSearch(fake, tries=2, budget=1e9, clock=fake.clock).run([small, big])
    assert out.best is not None and out.best.label == "big"
    assert out.tried[0] == "small: 4 calls"


def test_nothing_reproduces() -> None:
    fake = Fake(lambda s, _: False)
    out = ScriptSearch(fake, tries=3, budget=1e9, clock=fake.clock).run([script([2, 3])])
    assert out.best is None and out.rate is None and fake.runs == 3


def test_a_flaky_failure_is_kept_at_its_first_reproduction_and_its_rate_measured() -> None:
    fake = Fake(lambda s, n: n % 3 == 0)
    out = ScriptSearch(fake, tries=3, budget=1e9, clock=fake.clock).run([script([2])])
    assert out.best is not None and out.best_trial is not None
    assert out.rate is not None and out.rate[1] == 3 and 0 < out.rate[0] < 3


def test_budget_bounds_the_search() -> None:
    fake = Fake(needs(17))
    out = ScriptSearch(fake, tries=2, budget=30.0, clock=fake.clock).run([script(list(range(2, 200)))])
    assert fake.now <= 30.0 + 3.0
    assert out.best is not None and 17 in [w.revision for w in out.best.writes]
