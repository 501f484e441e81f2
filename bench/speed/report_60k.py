"""Time report generation and measure the page for a synthetic 60k-operation etcd history.

The history is generated here (seeded): clients doing puts and ranges against one
simulated store with random latencies, a few fault windows during which requests fail
or end unknown, member status samples and a watcher. It is written in our JSONL format,
read back, and rendered; the etcd checker is timed separately (``--check``) because the
report must not depend on it. Run: python -m bench.speed.report_60k [--ops 60000] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from harness.history.jsonl import read_history, write_history
from harness.report import render_report
from models.check import check
from models.verdict import Verdict
from tests.common.bulk import generate


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
