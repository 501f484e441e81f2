"""A simulated history survives the JSONL file and checks the same (the CLI's path)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import msgspec

from harness.history.jsonl import read_history, write_history
from models.etcd import check_history
from tests.common.simulator import SimConfig, simulate


def test_jsonl_roundtrip_checks_ok(tmp_path: Path) -> None:
    sim = simulate(SimConfig(seed=7, ops=400, unknown_rate=0.02, watches=2))
    path = tmp_path / "h.jsonl"
    write_history(path, sim.history)
    back = read_history(str(path))
    assert back.model == "etcd"
    v = check_history(back)
    assert v.verdict == "ok", v.summary()
    assert v.witness is not None and v.witness.writers.get(2) is not None


def test_anomalies_are_json_serializable(tmp_path: Path) -> None:
    sim = simulate(SimConfig(seed=3, ops=200, watches=1))
    h = sim.history
    put = next(i for i, o in enumerate(h.ops) if o.status == "ok" and o.input["kind"] == "put" and i > 20)
    out = dict(h.ops[put].output)
    out["header"] = {"revision": 2}
    h.ops[put] = msgspec.structs.replace(h.ops[put], output=out)
    v = check_history(h)
    assert v.verdict == "illegal"
    json.dumps([dataclasses.asdict(a) for a in v.anomalies])
