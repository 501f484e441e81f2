"""A real distillation: the recorded exploration finding of etcd-io/etcd#18089 (a
compaction at a txn's deletion, then a watch from there) becomes a handful of calls
whose test file fails on etcd 3.4.23 every time it runs, and ``reproduce`` reruns it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.cli import main

ETCD = "/usr/bin/etcd"
FINDING = (
    Path(__file__).resolve().parents[2] / "data" / "regressions" / "etcd-18089-explored-tombstone-in-txn"
)
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists(ETCD), reason="etcd 3.4 (Debian's etcd-server) not installed"),
]


def test_distils_the_finding_and_reproduce_reruns_it(tmp_path: Path) -> None:
    out = tmp_path / "shrunk"
    rc = main(["shrink", str(FINDING), "--etcd", ETCD, "--tries", "2", "--budget", "400", "--out", str(out)])
    assert rc == 0
    record = json.loads((out / "shrink.json").read_text())
    assert record["method"] == "distilled"
    assert record["anomaly"] == {"kind": "watch-gap", "known_bug": "etcd-io/etcd#18089"}
    assert record["original"]["operations"] > 6000
    assert record["final"]["calls"] <= 8
    assert record["reproduction_rate"]["reproduced"] == record["reproduction_rate"]["runs"] == 2
    text = (out / "test_reproduction.py").read_text()
    assert "etcd_recorder.compact(" in text and "etcd_recorder.watch(" in text
    assert "etcd-io/etcd#18089" in (out / "reproduction.txt").read_text()
    again = tmp_path / "again"
    assert main(["reproduce", str(out), "--etcd", ETCD, "--out", str(again)]) == 1
    checked = json.loads((again / "check.json").read_text())
    assert any(a["kind"] == "watch-gap" for a in checked["anomalies"])
