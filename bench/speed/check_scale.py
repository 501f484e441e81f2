"""Time and peak RSS of ``etcd-harness check`` as a simulated history grows.

For each size, simulates a history (kv mix, 0.5% unknown outcomes, watches, periodic
compaction: ``tests/common/simulator.py``), writes it as JSONL, and checks it in a
process of its own (so each size's peak RSS is its own) under ``--max-memory`` and
``--timeout``: a size that does not fit ends ``unknown`` with the budget named instead
of taking the machine. Prints ops, file size, check time, peak RSS and verdict per size,
and RSS per operation, which stays flat only for a checker whose memory does not grow
with the history.

    python -m bench.speed.check_scale [--sizes 25000,100000,300000] [--max-memory 4G] [--timeout 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.speed.check_stream import check_in_child
from harness.history.jsonl import write_history
from tests.common.simulator import SimConfig, simulate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="25000,100000,300000", help="operations per history, growing")
    ap.add_argument("--max-memory", default="4G")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print(f"{'ops':>9} {'file MB':>8} {'sim s':>6} {'check s':>8} {'peak RSS MB':>12} {'KB/op':>6}  verdict")
    with tempfile.TemporaryDirectory(prefix="etcd-check-scale-") as tmp:
        for n in sizes:
            t0 = time.monotonic()
            path = Path(tmp) / f"h{n}.jsonl"
            write_history(path, simulate(SimConfig(seed=args.seed, ops=n, watches=4, keys=20)).history)
            sim_s = time.monotonic() - t0
            result, check_s, peak = check_in_child(path, False, args.max_memory, args.timeout)
            verdict = str(result.get("verdict"))
            if result.get("reason"):
                verdict += f": {result['reason']}"
            print(
                f"{n:>9} {path.stat().st_size / 1e6:>8.1f} {sim_s:>6.1f} {check_s:>8.2f} {peak / 1e6:>12.0f} "
                f"{peak / 1024 / n:>6.1f}  {verdict}",
                flush=True,
            )
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
