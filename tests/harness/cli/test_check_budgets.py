"""``check --timeout`` and ``--max-memory`` hold while a large history is read and
checked: the file ends unknown, with the budget named, soon after the budget ran out."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.check import check_file
from harness.history.jsonl import read_history, write_history
from harness.watchdog import BudgetExceeded, Watchdog, parse_size, rss_bytes
from tests.common.simulator import SimConfig, simulate


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "h.jsonl"
    write_history(path, simulate(SimConfig(seed=5, ops=30_000, watches=3)).history)
    return path


def verdict_of(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, object], float]:
    started = time.monotonic()
    code = main(argv)
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1]), elapsed


def test_a_memory_budget_ends_the_file_unknown(big: Path, capsys: pytest.CaptureFixture[str]) -> None:
    budget = rss_bytes() + (24 << 20)
    code, v, _ = verdict_of(capsys, ["check", "--json", "--max-memory", str(budget), str(big)])
    assert code == 3 and v["verdict"] == "unknown", v
    assert str(v["reason"]).startswith("memory budget of") and "ran out" in str(v["reason"]), v
    code, v, _ = verdict_of(capsys, ["check", "--json", "--max-memory", "20G", str(big)])
    assert code == 0 and v["verdict"] == "ok", "with room to spare the same file checks"


def test_a_time_budget_holds_within_a_second(big: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, v, elapsed = verdict_of(capsys, ["check", "--json", "--timeout", "0.2", str(big)])
    assert code == 3 and v["verdict"] == "unknown" and "time budget" in str(v["reason"]), v
    assert elapsed < 1.2, f"stopped {elapsed:.2f} s after a 0.2 s budget"


def test_the_watchdog_stops_work_that_never_looks_at_the_clock() -> None:
    started = time.monotonic()
    with pytest.raises(BudgetExceeded, match="time budget of 0.2 s ran out"), Watchdog(timeout=0.2):
        while time.monotonic() - started < 10:
            sum(range(1000))
    assert time.monotonic() - started < 1.0
    time.sleep(0.2)  # a late signal finds the handler that ignores it


def test_a_budget_raise_that_is_dropped_comes_again() -> None:
    """A handler that runs inside a gc callback or __del__ raises into nothing (Python
    reports and drops it): the watchdog keeps raising until the work is left."""
    dropped = 0
    started = time.monotonic()
    with pytest.raises(BudgetExceeded), Watchdog(timeout=0.1):
        for _ in range(100):
            try:
                time.sleep(0.5)
            except BudgetExceeded:
                if dropped:
                    raise
                dropped += 1
    assert dropped == 1 and time.monotonic() - started < 1.0


class _DroppedOnCollect:
    def __init__(self, error: BaseException):
        self.error = error

    def __del__(self) -> None:
        raise self.error


def test_a_dropped_budget_raise_prints_nothing_but_other_dropped_errors_still_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Python reports an exception raised in a ``__del__`` as "Exception ignored in" with
    a traceback: for the watchdog's own raise that is noise (it comes again), for any
    other error it is still news."""
    seen: list[type[BaseException]] = []
    monkeypatch.setattr("sys.unraisablehook", lambda info: seen.append(type(info.exc_value)))
    with Watchdog(timeout=60):
        _DroppedOnCollect(BudgetExceeded("time budget of 60 s ran out"))
        _DroppedOnCollect(ValueError("a real bug"))
    _DroppedOnCollect(BudgetExceeded("after the work"))
    assert seen == [ValueError, BudgetExceeded], "quiet only while armed, and only for its own raise"


@pytest.mark.parametrize(
    ("text", "size"),
    [("2G", 2 << 30), ("500M", 500 << 20), ("1.5GiB", 3 << 29), ("4096", 4096), ("64kb", 64 << 10)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "2X", "-1G", "0", "G"])
def test_a_bad_size_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], text: str, tmp_path: Path
) -> None:
    assert main(["check", f"--max-memory={text}", str(tmp_path / "none.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "--max-memory wants a size" in err and "Traceback" not in err


def test_a_checker_that_stops_at_its_deadline_names_the_budget(big: Path) -> None:
    """The search keeps the deadline it is handed and says so in its own words; the
    verdict still names ``--timeout``, as when the reader or the watchdog stops first."""
    hist = read_history(big)
    args = argparse.Namespace(initial=None, model=None, max_states=None, timeout=0.05)
    checked = check_file(hist, args, time.monotonic() + 0.05)
    assert checked.verdict.verdict == "unknown"
    assert checked.verdict.reason.startswith("time budget of 0.05 s ran out while checking ("), checked
