from __future__ import annotations

import csv
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HISTORIES = SHARED / "histories"


def expected_rows() -> list[dict[str, str]]:
    path = HISTORIES / "EXPECTED.tsv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture
def shared_histories() -> Path:
    if not HISTORIES.exists():
        pytest.skip("../shared/histories is not beside the project")
    return HISTORIES
