"""Time report generation and measure the page for a synthetic 60k-operation etcd history.

The history is generated here (seeded): clients doing puts and ranges against one
simulated store with random latencies, a few fault windows during which requests fail
or end unknown, member status samples and a watcher. It is written in our JSONL format,
read back, and rendered; the etcd checker is timed separately (``--check``) because the
report must not depend on it. Run: python bench/report_60k.py [--ops 60000] [--out DIR]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.history.jsonl import read_history, write_history  # noqa: E402
from harness.report import render_report  # noqa: E402
from models.check import check  # noqa: E402
from models.history import ErrorInfo, FaultRecord, Header, History, OpRecord, StatusRecord, WatchRecord  # noqa: E402
from models.verdict import Verdict  # noqa: E402

MS = 1_000_000
MEMBERS = ["m1", "m2", "m3"]


def generate(n_ops: int, clients: int = 16, seed: int = 1, keys: int = 200) -> History:
    """A plausible linearizable etcd history: every op takes effect at a point in its interval."""
    rng = random.Random(seed)
    span = n_ops // clients * 16 * MS
    faults = [
        (span * 2 // 10, span * 3 // 10, "kill", ["m2"]),
        (span * 5 // 10, span * 6 // 10, "partition", ["m1"]),
        (span * 8 // 10, span * 85 // 100, "delay", ["m3"]),
    ]
    pending: list[tuple[int, int, int, int, int, str, str, str]] = []
    clock = [rng.randrange(0, 5 * MS) for _ in range(clients)]
    for i in range(n_ops):
        c = i % clients
        call = clock[c]
        in_fault = any(a <= call < b for a, b, _, _ in faults)
        lat = int(rng.lognormvariate(0.3, 0.6) * MS) + (int(rng.expovariate(1 / 30) * MS) if in_fault else 0)
        ret = call + lat
        point = call + rng.randrange(0, max(1, lat))
        kind = "put" if rng.random() < 0.4 else "range"
        status = "ok"
        if in_fault and rng.random() < 0.2:
            status = "unknown" if kind == "put" else "fail"
        pending.append((point, i, c, call, ret, kind, f"k{rng.randrange(keys)}", status))
        clock[c] = ret + rng.randrange(5 * MS, 25 * MS)
    pending.sort()
    rev = 1
    store: dict[str, tuple[str, int, int, int]] = {}
    ops: list[OpRecord] = []
    for _point, i, c, call, ret, kind, key, status in pending:
        member = MEMBERS[c % 3]
        if status != "ok":
            if status == "unknown" and rng.random() < 0.5:
                rev += 1
                prev = store.get(key)
                store[key] = (f"v{i}", prev[1] if prev else rev, rev, (prev[3] + 1) if prev else 1)
            err = ErrorInfo(code="UNAVAILABLE", message="etcdserver: request timed out")
            inp = {"kind": kind, "key": key, "value": f"v{i}", "lease": 0, "prev_kv": False}
            if kind == "range":
                inp = {"kind": "range", "key": key, "range_end": None, "revision": 0, "limit": 0}
            ops.append(
                OpRecord(
                    id=i, client=c, call=call, ret=ret, input=inp, status=status, error=err, member=member
                )
            )
            continue
        if kind == "put":
            rev += 1
            prev = store.get(key)
            store[key] = (f"v{i}", prev[1] if prev else rev, rev, (prev[3] + 1) if prev else 1)
            out = {"header": {"revision": rev}, "prev_kv": None}
            inp = {"kind": "put", "key": key, "value": f"v{i}", "lease": 0, "prev_kv": False}
        else:
            kv = store.get(key)
            kvs = (
                []
                if kv is None
                else [
                    {
                        "key": key,
                        "value": kv[0],
                        "create_revision": kv[1],
                        "mod_revision": kv[2],
                        "version": kv[3],
                        "lease": 0,
                    }
                ]
            )
            out = {"header": {"revision": rev}, "kvs": kvs, "more": False, "count": len(kvs)}
            inp = {"kind": "range", "key": key, "range_end": None, "revision": 0, "limit": 0}
        ops.append(
            OpRecord(id=i, client=c, call=call, ret=ret, input=inp, output=out, status="ok", member=member)
        )
    ops.sort(key=lambda o: o.id)
    end = max(o.ret or o.call for o in ops)
    hist = History(
        header=Header(
            tool_version="bench",
            scenario="bench-60k",
            seed=seed,
            cluster={"backend": "process", "members": [{"name": m} for m in MEMBERS]},
            etcd_versions=["3.5.17"],
            start_time="2026-01-01T00:00:00Z",
            model="etcd",
        ),
        ops=ops,
        finished=True,
    )
    for fid, (a, b, kind, targets) in enumerate(faults):
        hist.faults.append(FaultRecord(id=fid, phase="start", kind=kind, time=a, targets=targets))
        hist.faults.append(FaultRecord(id=fid, phase="end", kind=kind, time=b, targets=targets))
    step = 500 * MS
    puts = sorted(
        (o.ret or 0, (o.output or {}).get("header", {}).get("revision", 0)) for o in ops if o.status == "ok"
    )
    k = 0
    current = 1
    for t in range(0, end, step):
        while k < len(puts) and puts[k][0] <= t:
            current = max(current, puts[k][1])
            k += 1
        for m in MEMBERS:
            lag = 0 if m != "m2" or not (faults[0][0] <= t < faults[0][1]) else rng.randrange(50, 200)
            hist.statuses.append(StatusRecord(time=t, member=m, revision=max(1, current - lag), raft_term=2))
    hist.watches.append(
        WatchRecord(
            watch=1,
            client=clients,
            time=0,
            event="request",
            member="m1",
            request={"key": "k0", "range_end": "\u0000"},
        )
    )
    for t in range(MS, end, 250 * MS):
        hist.watches.append(
            WatchRecord(
                watch=1, client=clients, time=t, event="progress", member="m1", header={"revision": 1}
            )
        )
    return hist


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=60_000)
    ap.add_argument(
        "--out", default=None, help="directory for history.jsonl and report.html (default: a temp dir)"
    )
    ap.add_argument("--check", action="store_true", help="also run the etcd checker and time it")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="report-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    hist = generate(args.ops)
    path = out / "history.jsonl"
    write_history(path, hist)
    t1 = time.perf_counter()
    hist = read_history(str(path))
    t2 = time.perf_counter()
    verdict = check(hist, timeout=120) if args.check else Verdict.unchecked("bench: rendering only", "")
    t3 = time.perf_counter()
    page = render_report(hist, verdict, plots=False)
    t4 = time.perf_counter()
    page = render_report(hist, verdict)
    t5 = time.perf_counter()
    (out / "report.html").write_text(page, encoding="utf-8")
    size = len(page.encode())
    print(
        f"history: {path} ({len(hist.ops)} ops, {path.stat().st_size / 1e6:.1f} MB, generated in {t1 - t0:.2f} s)"
    )
    print(f"read history:            {(t2 - t1) * 1000:8.0f} ms")
    if args.check:
        print(
            f"etcd check:              {(t3 - t2) * 1000:8.0f} ms  verdict {verdict.verdict} {verdict.reason}"
        )
    print(f"render without plots:    {(t4 - t3) * 1000:8.0f} ms")
    print(f"render with plots:       {(t5 - t4) * 1000:8.0f} ms")
    print(f"report.html:             {size / 1e6:8.2f} MB  ({out / 'report.html'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
