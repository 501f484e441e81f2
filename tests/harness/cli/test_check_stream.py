"""``check --stream``: the same exit codes as the full check, its budgets held, and what
it leaves out named in the verdict."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.history.jsonl import write_history
from harness.watchdog import rss_bytes
from tests.common.simulator import SimConfig, simulate
from tests.models.etcd.stream.test_stream import wrong_value


@pytest.fixture(scope="module")
def sim_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("stream")
    sim = simulate(SimConfig(seed=7, ops=30_000, watches=3))
    good, bad = tmp / "good.jsonl", tmp / "bad.jsonl"
    write_history(good, sim.history)
    mutated = wrong_value(sim, random.Random(7))
    assert mutated is not None
    write_history(bad, mutated)
    return good, bad


def verdict_of(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object], float]:
    started = time.monotonic()
    code = main(list(argv))
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1]), elapsed


def test_a_correct_history_is_ok_and_names_what_was_not_checked(
    sim_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, v, _ = verdict_of(capsys, "check", "--json", "--stream", "--window", "3000", str(sim_files[0]))
    assert code == 0 and v["verdict"] == "ok", v
    assert "watch guarantees" in v["not_checked"]  # type: ignore[operator]
    assert v["ops"] == 30_000


def test_a_wrong_value_exits_1(sim_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, v, _ = verdict_of(capsys, "check", "--json", "--stream", "--window", "3000", str(sim_files[1]))
    assert code == 1 and v["verdict"] == "illegal", v
    assert main(["check", "--stream", "--window", "3000", str(sim_files[1])]) == 1
    assert "does not match" in capsys.readouterr().out


def test_a_time_budget_holds_within_a_second(
    sim_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, v, elapsed = verdict_of(
        capsys, "check", "--json", "--stream", "--timeout", "0.2", str(sim_files[0])
    )
    assert code == 3 and v["verdict"] == "unknown", v
    assert elapsed < 1.2, f"stopped {elapsed:.2f} s after a 0.2 s budget"


def test_a_memory_budget_ends_the_file_unknown(
    sim_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # Below what the process holds already: a bounded check in a process whose heap
    # earlier tests left large need not grow its RSS at all.
    budget = rss_bytes() - (1 << 20)
    code, v, _ = verdict_of(
        capsys, "check", "--json", "--stream", "--max-memory", str(budget), str(sim_files[0])
    )
    assert code == 3 and str(v["reason"]).startswith("memory budget of"), v


def test_stream_needs_an_etcd_jsonl_history(
    shared_histories: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--stream", "--format", "porcupine-kv", "x"]) == 2
    assert "--stream reads the harness's JSONL" in capsys.readouterr().err
    assert main(["check", "--stream", str(shared_histories / "porcupine-kv/c01-ok.txt")]) == 2


REGRESSIONS = Path(__file__).resolve().parents[2] / "data" / "regressions"


@pytest.mark.parametrize(
    "case", sorted(p.name for p in REGRESSIONS.iterdir() if (p / "expect.json").exists())
)
def test_real_histories_are_never_illegal_where_the_full_check_is_not(
    case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Recorded runs of real etcd: leases that expire (no operation made those revisions),
    faults, members that lost writes. A streamed illegal must be an illegal of the full
    check too; a full illegal the stream misses must be one of what it does not check."""
    expected = json.loads((REGRESSIONS / case / "expect.json").read_text())["verdict"]
    _, got, _ = verdict_of(
        capsys, "check", "--json", "--stream", str(REGRESSIONS / case / "history.jsonl.xz")
    )
    if expected == "ok":
        assert got["verdict"] != "illegal", got
    if got["verdict"] == "illegal":
        assert expected == "illegal"
