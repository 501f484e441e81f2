"""The run pipeline end to end on a real 3-member etcd (3.4.23 from Debian)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness.history.jsonl import read_history
from harness.runner import RunOptions, run

ETCD = "/usr/bin/etcd"  # Debian's 3.4.23; an `etcd` on PATH may be another version
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists(ETCD), reason="etcd 3.4 (Debian's etcd-server) not installed"),
]


def test_smoke_run_passes_and_leaves_artifacts(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = run(RunOptions(scenario="smoke", seed=11, etcd=ETCD, out=str(out), progress=False))
    assert res.verdict == "ok", res.anomalies
    for name in ("history.jsonl", "plan.json", "summary.json"):
        assert (out / name).exists(), name
    assert list((out / "cluster").glob("m*.log"))
    assert not (out / "cluster" / "data").exists(), "data dirs are only kept for failures"
    hist = read_history(str(out / "history.jsonl"))
    assert hist.finished and hist.header.seed == 11 and hist.header.etcd_versions == ["3.4.23"]
    kinds = {o.input["kind"] for o in hist.ops}
    assert {"put", "range", "txn"} <= kinds
    assert hist.faults and hist.faults[0].kind == "kill"
    assert hist.watches, "watchers record their streams"
    hashes = {s.hash for s in hist.statuses if s.hash is not None}
    assert len(hashes) == 1, "members converged to one KV hash"
    summary = json.loads((out / "summary.json").read_text())
    assert 0 < summary["revisions_per_s"] <= summary["qps"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verdict"] == "ok" and summary["ops"] == len(hist.ops)
    assert res.reproduce == f"etcd-harness reproduce {out}"


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_ends_the_run_like_ctrl_c(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    """Whatever stops the run, the history is kept and marked interrupted, the summary
    and report are written, and no member survives; a second signal does not cut the
    clean-up short."""
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            "smoke",
            "--seed",
            "3",
            "--etcd",
            ETCD,
            "--duration",
            "30",
            "--out",
            str(out),
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out / "history.jsonl").exists():
        time.sleep(0.2)
    time.sleep(3)
    proc.send_signal(sig)
    time.sleep(0.3)
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == code, output.decode()
    assert f"INTERRUPTED by {sig.name}" in output.decode()
    hist = read_history(str(out / "history.jsonl"))
    assert hist.ops, "what was recorded before the signal is kept"
    assert any(n.text == f"interrupted by {sig.name}" for n in hist.notes)
    assert not hist.finished, "the end record says interrupted, so no check expects a settled cluster"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] == sig.name and summary["ops"] == len(hist.ops)
    assert (out / "report.html").exists()
    leftover = subprocess.run(["pgrep", "-f", f"--data-dir {out}"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "no etcd member survives the harness"


def test_a_disk_that_fills_during_a_run_ends_with_one_line(tmp_path: Path) -> None:
    """The history stops at its last whole record, the cluster is torn down, and the run
    ends with one line and exit 2 (an environment error), not tracebacks."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    # Room for three members' preallocated WAL files (64 MB each), then filled up.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400m", "tmpfs", str(disk)], check=True)
    try:
        out = disk / "run"
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "run", "smoke", "--seed", "5", "--etcd", ETCD]
            + ["--duration", "30", "--out", str(out), "--no-progress"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (out / "history.jsonl").exists():
            time.sleep(0.2)
        time.sleep(3)
        with open(disk / "filler", "wb") as f:
            try:
                for _ in range(400):
                    f.write(b"\0" * (1 << 20))
                    f.flush()
            except OSError:
                pass
        stdout, stderr = proc.communicate(timeout=120)
        err = stderr.decode()
        assert proc.returncode == 2, (stdout.decode(), err)
        assert "Traceback" not in err and "Traceback" not in stdout.decode()
        last = err.strip().splitlines()[-1]
        assert last.startswith("etcd-harness: error: cannot write") and "last whole record" in last, err
        hist = read_history(str(out / "history.jsonl"))
        assert hist.ops and not hist.warnings, "every record kept is whole"
        leftover = subprocess.run(["pgrep", "-f", f"--data-dir {out}"], capture_output=True, text=True)
        assert leftover.stdout.strip() == "", "no etcd member survives the harness"
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_txn_that_only_read_is_not_counted_as_a_write() -> None:
    from harness.report.summary import acknowledged_write as _acknowledged_write

    txn = {
        "kind": "txn",
        "compare": [{"key": "a", "target": "mod", "result": "=", "value": 3}],
        "success": [{"kind": "put", "key": "a", "value": "x"}],
        "failure": [{"kind": "range", "key": "a"}],
    }
    won = {"header": {"revision": 9}, "succeeded": True, "responses": [{"kind": "put"}]}
    lost = {"header": {"revision": 8}, "succeeded": False, "responses": [{"kind": "range", "kvs": []}]}
    assert _acknowledged_write(txn, "ok", won)
    assert not _acknowledged_write(txn, "ok", lost)
    assert not _acknowledged_write(txn, "unknown", None)
    assert _acknowledged_write({"kind": "put", "key": "a"}, "ok", {"header": {"revision": 2}})
    assert not _acknowledged_write({"kind": "range", "key": "a"}, "ok", {"header": {"revision": 2}})


def _traffic(ran_for: float, error: str | None = None) -> object:
    from types import SimpleNamespace

    return SimpleNamespace(ran_for=ran_for, error=error)


def _history(puts: int, failed: int = 0) -> object:
    from models.history import Header, History, OpRecord

    ops = [
        OpRecord(
            id=i,
            client=i % 4,
            call=i,
            ret=i + 1,
            input={"kind": "put", "key": "a", "value": str(i)},
            status="ok",
            output={"header": {"revision": i + 2}},
        )
        for i in range(puts)
    ]
    ops += [
        OpRecord(id=puts + i, client=0, call=0, ret=1, input={"kind": "range", "key": "a"}, status="fail")
        for i in range(failed)
    ]
    return History(header=Header(model="etcd"), ops=ops, finished=True)


NOTHING = "no write was acknowledged: the run tested nothing"


@pytest.mark.parametrize(
    ("hist", "traffic", "reason", "if_interrupted"),
    [
        (lambda: _history(0, failed=500), _traffic(8.0), NOTHING, NOTHING),
        (lambda: _history(400), _traffic(8.0, "RuntimeError: boom"), "traffic stopped early: RuntimeError: boom", "traffic stopped early"),
        (lambda: _history(400), _traffic(2.0), "traffic stopped early: it ran 2.0 s of 8 s", ""),
        (lambda: _history(30), _traffic(8.0), "only 30 operations succeeded of about 4000 planned", ""),
        (lambda: _history(3000), _traffic(8.0), "", ""),
    ],
)  # fmt: skip
def test_a_run_that_tested_too_little_does_not_pass(
    hist: Any, traffic: Any, reason: str, if_interrupted: str
) -> None:
    """smoke plans 500 ops/s for 8 s; a run far below that, or whose traffic died, is
    unknown. Stopped by a signal, only a run with nothing acknowledged or a dead traffic
    loop is."""
    from harness.conclusion import untested_reason
    from harness.traffic.plan import make_plan
    from scenarios import get_scenario

    plan = make_plan(get_scenario("smoke"), 1)
    got = untested_reason(hist(), plan, traffic, None)
    assert got.startswith(reason) if reason else got == ""
    got = untested_reason(hist(), plan, traffic, 2)
    assert got.startswith(if_interrupted) if if_interrupted else got == ""


def test_a_run_over_two_workers_is_one_history(tmp_path: Path) -> None:
    """The clients of one plan in two processes: every client's calls are in the one
    history (no part left over), with one id each, and the run is checked as usual."""
    out = tmp_path / "run"
    res = run(RunOptions(scenario="smoke", seed=12, etcd=ETCD, out=str(out), progress=False, workers=2))
    assert res.verdict == "ok", res.anomalies
    hist = read_history(str(out / "history.jsonl"))
    plan = json.loads((out / "plan.json").read_text())
    clients = {c["client"] for c in plan["clients"]}
    assert clients <= {o.client for o in hist.ops}
    assert len({o.id for o in hist.ops}) == len(hist.ops)
    assert not list(out.glob("history.worker*")), "every part was merged"
    traffic = [o for o in hist.ops if o.client in clients]
    rets = [o.ret for o in traffic if o.ret is not None]
    assert rets == sorted(rets), "merged in the order the calls completed"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ops"] == len(hist.ops) and summary["verdict"] == "ok"


def test_an_interrupted_run_over_workers_keeps_their_calls_and_leaves_no_worker(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", "smoke", "--seed", "4", "--etcd", ETCD, "--duration", "30", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args, "--no-progress", "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out / "history.worker1.jsonl").exists():
        time.sleep(0.2)
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output.decode()
    hist = read_history(str(out / "history.jsonl"))
    plan = json.loads((out / "plan.json").read_text())
    assert {c["client"] for c in plan["clients"]} <= {o.client for o in hist.ops}
    assert not list(out.glob("history.worker*"))
    leftover = subprocess.run(["pgrep", "-f", "multiprocessing.spawn"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "no worker process survives the run"
