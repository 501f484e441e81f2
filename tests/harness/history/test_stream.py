"""The streamed reader validates as the whole-file reader does, keeping nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.history.errors import HistoryError
from harness.history.jsonl import write_history
from harness.history.stream import HistoryStream, SeenIds
from models.history import OpRecord
from tests.common.simulator import SimConfig, simulate


def test_seen_ids_bitmap_and_others() -> None:
    seen = SeenIds()
    assert seen.add(0) and seen.add(1_000_003) and seen.add(-5) and seen.add(1 << 40)
    assert not seen.add(0) and not seen.add(1_000_003) and not seen.add(-5) and not seen.add(1 << 40)
    assert seen.add(1_000_002)


def test_records_come_validated_and_a_duplicate_id_is_an_error(tmp_path: Path) -> None:
    h = simulate(SimConfig(seed=1, ops=200)).history
    path = tmp_path / "h.jsonl"
    write_history(path, h)
    stream = HistoryStream(str(path))
    ops = [r for r in stream.records() if isinstance(r, OpRecord)]
    assert len(ops) == 200 and stream.hist.header.model == "etcd"
    h.ops.append(h.ops[0])
    write_history(path, h)
    with pytest.raises(HistoryError, match="duplicate operation id"):
        list(HistoryStream(str(path)).records())
