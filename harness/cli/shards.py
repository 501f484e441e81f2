"""Which cells of the nightly matrix a shard runs, so that N machines split one matrix.

The unsharded matrix is a sequence of rounds; each round holds every (scenario, builds)
cell once, with the round's seed (the matrix seed plus the round number). Numbering the
cells of every round one after another, shard I of N takes the cells whose number is
I-1 modulo N: the shards are disjoint, together they are the whole sequence, and a cell
has the same seed whatever N is. Each shard then runs its cells in order within its own
budget, as the unsharded matrix does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from harness.errors import UsageError
from scenarios import Scenario


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def takes(self, number: int) -> bool:
        return number % self.count == self.index - 1


WHOLE = Shard(1, 1)


def parse_shard(text: str | None) -> Shard:
    if text is None:
        return WHOLE
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise UsageError(f"--shard wants I/N with 1 <= I <= N (e.g. 2/4), not {text!r}")
    return Shard(int(m.group(1)), int(m.group(2)))


@dataclass(frozen=True)
class Cell:
    number: int
    round: int
    scenario: Scenario
    version: str | None


def round_cells(
    scenarios: Sequence[Scenario], versions: Sequence[str | None]
) -> list[tuple[Scenario, str | None]]:
    """One round's cells: each scenario on each build list, once for a scenario that
    names its own builds."""
    return [(s, v) for s in scenarios for v in ([None] if s.etcd_versions else versions)]


def cells_of_round(
    round_no: int, scenarios: Sequence[Scenario], versions: Sequence[str | None], shard: Shard = WHOLE
) -> list[Cell]:
    cells = round_cells(scenarios, versions)
    first = round_no * len(cells)
    return [
        Cell(first + j, round_no, scn, version)
        for j, (scn, version) in enumerate(cells)
        if shard.takes(first + j)
    ]
