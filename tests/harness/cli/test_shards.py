"""`matrix --shard I/N` and `merge`: shards are disjoint, together they are the unsharded
matrix with the same seeds, and merging them gives back its summary and JUnit file."""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import harness.cli.matrix as matrix
from harness.cli import main
from harness.cli.shards import Shard, cells_of_round, parse_shard
from harness.errors import UsageError
from scenarios import get_scenario

SCENARIOS = [get_scenario(n) for n in ("smoke", "watch", "kill-under-load", "upgrade-3.4-to-3.5")]
VERSIONS: list[str | None] = ["3.4.23", "3.5.1"]


def _key(cell: Any) -> tuple[int, str, str | None]:
    return cell.round, cell.scenario.name, cell.version


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_shards_are_disjoint_and_together_the_whole_matrix(n: int) -> None:
    for round_no in range(4):
        whole = [_key(c) for c in cells_of_round(round_no, SCENARIOS, VERSIONS)]
        parts = [
            [_key(c) for c in cells_of_round(round_no, SCENARIOS, VERSIONS, Shard(i, n))]
            for i in range(1, n + 1)
        ]
        for a, b in itertools.combinations(parts, 2):
            assert not set(a) & set(b)
        assert sorted(itertools.chain(*parts)) == sorted(whole)
    # a scenario that names its builds is one cell per round, not one per version
    assert len(cells_of_round(0, SCENARIOS, VERSIONS)) == 3 * 2 + 1


def test_shards_stay_balanced_over_rounds() -> None:
    counts = [
        sum(len(cells_of_round(r, SCENARIOS, VERSIONS, Shard(i, 3))) for r in range(5)) for i in (1, 2, 3)
    ]
    assert max(counts) - min(counts) <= 1 and sum(counts) == 5 * 7


@pytest.mark.parametrize("text", ["0/3", "4/3", "2", "a/b", "1/0", "-1/2"])
def test_a_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--shard wants I/N"):
        parse_shard(text)


def test_bad_shard_on_the_command_line_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--scenarios", "smoke", "--shard", "3/2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--shard wants I/N" in err[0]


@pytest.fixture
def fake_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Runs that take no time and pass; three rounds, then the matrix stops."""
    ran: list[tuple[str, int]] = []

    def one_run(
        args: Any, out: Path, results: Any, scn: Any, version: Any, seed: int, duration: float
    ) -> Any:
        name = f"{scn.name}-{version or 'own'}-seed{seed}"
        ran.append((name, seed))
        row = {
            "name": name,
            "scenario": scn.name,
            "version": version,
            "seed": seed,
            "verdict": "ok",
            "seconds": 1.0,
        }
        return row, None

    monkeypatch.setattr(matrix, "_one_run", one_run)
    monkeypatch.setattr("harness.cluster.binaries.resolve", lambda *a, **k: None)
    monkeypatch.setattr(matrix, "MAX_ROUNDS", 3)
    return ran


ARGV = [
    "matrix",
    "--scenarios",
    "smoke,watch,upgrade-3.4-to-3.5",
    "--versions",
    "3.4.23,3.5.1",
    "--seed",
    "40",
]


def _matrix(out: Path, *extra: str) -> int:
    return main([*ARGV, "--out", str(out), "--junit", str(out / "junit.xml"), *extra])


def test_merged_shards_are_the_unsharded_matrix(tmp_path: Path, fake_runs: list[tuple[str, int]]) -> None:
    assert _matrix(tmp_path / "whole") == 0
    whole = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert whole["matrix"]["shard"] == "1/1" and len(whole["runs"]) == 3 * 5
    for i in (1, 2, 3):
        assert _matrix(tmp_path / f"s{i}", "--shard", f"{i}/3") == 0
    shards = [tmp_path / f"s{i}" for i in (3, 1, 2)]
    code = main(
        ["merge", *map(str, shards), "--out", str(tmp_path / "merged"), "--junit", str(tmp_path / "m.xml")]
    )
    assert code == 0
    merged = json.loads((tmp_path / "merged" / "summary.json").read_text())
    assert [(r["name"], r["seed"]) for r in merged["runs"]] == [(r["name"], r["seed"]) for r in whole["runs"]]
    assert merged["matrix"]["shards"] == ["1/3", "2/3", "3/3"] and merged["matrix"]["missing"] == []
    suite = ET.parse(tmp_path / "m.xml").getroot()
    assert suite.get("tests") == str(len(whole["runs"])) == str(len(suite.findall("testcase")))


def test_merge_refuses_parts_of_other_matrices_and_names_missing_ones(
    tmp_path: Path, fake_runs: list[tuple[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    for i in (1, 2):
        assert _matrix(tmp_path / f"s{i}", "--shard", f"{i}/3") == 0
    assert main([*ARGV[:-1], "41", "--out", str(tmp_path / "other"), "--shard", "3/3"]) == 0
    capsys.readouterr()
    assert main(["merge", str(tmp_path / "s1"), str(tmp_path / "other"), "--out", str(tmp_path / "x")]) == 2
    assert "a different matrix" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "s1"), str(tmp_path / "s1"), "--out", str(tmp_path / "x")]) == 2
    assert "is also" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2
    assert "cannot read a matrix summary" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "s1"), str(tmp_path / "s2"), "--out", str(tmp_path / "x")]) == 4
    assert "missing shards 3/3" in capsys.readouterr().out
