"""Where the reference data beside the project is: ../shared/ (see its README)."""

from __future__ import annotations

import csv
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
HISTORIES = SHARED / "histories"


def expected_rows() -> list[dict[str, str]]:
    path = HISTORIES / "EXPECTED.tsv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))
