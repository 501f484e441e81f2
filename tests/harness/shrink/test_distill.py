"""Distilling a failed run's history into the calls behind its watch anomaly: which
writes, compactions and watch are kept, in which order, and how revisions are named."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from harness.history.jsonl import read_history
from harness.shrink.distill import distill, effect, interval, overlaps
from harness.shrink.live import Target
from harness.shrink.script import Compact, Script, Watch, Write, pytest_source
from models.check import check
from models.history import OpRecord

REGRESSIONS = Path(__file__).resolve().parents[2] / "data" / "regressions"


def distilled(name: str) -> list[Script]:
    hist = read_history(str(REGRESSIONS / name / "history.jsonl.xz"))
    verdict = check(hist, timeout=120)
    first = next(a for a in verdict.anomaly_dicts() if a["kind"] in ("watch-bad-start", "watch-gap"))
    return distill(hist, verdict, Target.of(first))


@pytest.fixture(scope="module")
def txn() -> list[Script]:
    return distilled("etcd-18089-explored-tombstone-in-txn")


def test_focused_candidate_first_then_every_watched_write(txn: list[Script]) -> None:
    focused, full = txn
    assert len(focused.writes) < len(full.writes)
    assert all(w in full.writes for w in focused.writes)
    # The named key is the deleted one; the write after it is the one the watch waits for.
    deleted = "/registry/pods/default/0011"
    assert all(
        w.revision in (552, 553)
        or any(p["key"] == deleted for p in (w.request.get("success") or [w.request]))
        for w in focused.writes
    )


def test_compaction_then_watch_from_the_deletion_revision(txn: list[Script]) -> None:
    steps = txn[0].steps
    compact = next(i for i, s in enumerate(steps) if isinstance(s, Compact))
    watch = next(i for i, s in enumerate(steps) if isinstance(s, Watch))
    assert steps[compact] == Compact(552)
    assert compact < watch
    w = steps[watch]
    assert isinstance(w, Watch) and w.start == 552 and w.until == 553
    lines = txn[0].lines()
    assert "etcd_recorder.compact(r552, physical=True)" in lines
    assert any("start_revision=r552" in line for line in lines)
    assert lines[-1] == "w10.events(until_revision=r553, timeout=10)"


def test_writes_in_revision_order_and_txn_as_its_branch(txn: list[Script]) -> None:
    revs = [w.revision for w in txn[1].writes]
    assert revs == sorted(revs)
    r552 = next(w for w in txn[0].writes if w.revision == 552)
    assert r552.request["compare"] == [] and [p["kind"] for p in r552.request["success"]] == ["put", "delete"]


@pytest.mark.parametrize(
    "name", ["etcd-18089-watch-misses-compacted-delete", "etcd-18089-explored-crash-during-compaction"]
)
def test_other_findings_distil_to_a_compaction_at_the_watch_start(name: str) -> None:
    focused = distilled(name)[0]
    watch = next(s for s in focused.steps if isinstance(s, Watch))
    compacts = [s for s in focused.steps if isinstance(s, Compact)]
    assert [c.revision for c in compacts] == [watch.start]
    assert any(w.revision == watch.start for w in focused.writes)


def test_the_test_file_is_python_and_names_only_bound_revisions(txn: list[Script]) -> None:
    for script in txn:
        text = pytest_source(script, title="t", source="s", what="w", rate="r")
        tree = ast.parse(text)
        bound = {
            t.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id.startswith(("r", "w"))}
        assert used <= bound | {"op"}


def test_compaction_without_a_replayed_write_before_it_is_left_out() -> None:
    w = Watch(1, "k", None, 5, until=7)
    script = Script((Compact(3), Write(5, {"kind": "put", "key": "k", "value": "v", "prev_kv": False}), w))
    assert not any("compact" in line for line in script.lines())
    dropped = Script((Write(2, {"kind": "put", "key": "k", "value": "v", "prev_kv": False}), Compact(4), w))
    assert "etcd_recorder.compact(r2, physical=True)" in dropped.lines()
    # No replayed write at or after the start: the watch starts from now, waits for nothing.
    assert dropped.lines()[-1] == "w1 = etcd_recorder.watch('k', start_revision=0)"


def test_effect_of_a_txn_is_the_branch_taken_without_reads() -> None:
    put = {"kind": "put", "key": "a", "value": "1", "lease": 7, "prev_kv": False}
    txn = {
        "kind": "txn",
        "compare": [{"key": "a"}],
        "success": [{"kind": "range", "key": "a"}],
        "failure": [put],
    }
    got = effect(OpRecord(1, 0, 0, txn, "ok", ret=1, output={"succeeded": False}))
    assert got == {
        "kind": "txn",
        "compare": [],
        "success": [{"kind": "put", "key": "a", "value": "1", "prev_kv": False}],
        "failure": [],
    }
    assert effect(OpRecord(1, 0, 0, txn, "ok", ret=1, output={"succeeded": True})) is None
    assert effect(OpRecord(1, 0, 0, txn, "unknown")) is None


def test_key_intervals() -> None:
    assert overlaps(interval("a/1", None), interval("a/", "a0"))
    assert not overlaps(interval("b", None), interval("a/", "a0"))
    assert overlaps(interval("z", None), interval("a", "\0"))
    assert not overlaps(interval("a", "b"), interval("b", "c"))
