"""The self-test over several seeds and longer traffic: per bug class, how often its
intended check caught it, which checks fired, and how long after the first injection the
first evidence was recorded.

    python -m bench.power.selftest --seeds 3 --duration 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from harness.cluster.binaries import resolve
from harness.selftest.bugs import BUGS
from harness.selftest.run import Row, selftest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--etcd", default=None)
    ap.add_argument("--etcd-version", default=None)
    ap.add_argument("--out", default="runs/selftest-bench")
    args = ap.parse_args()
    binary = resolve(args.etcd_version, args.etcd)
    names = ["none", *BUGS]
    rows: dict[str, list[Row]] = defaultdict(list)
    print(f"etcd {binary.version}, {args.seeds} seeds, {args.duration:g} s of traffic per class")
    for seed in range(1, args.seeds + 1):
        for row in selftest(
            names, binary=binary, out=Path(args.out) / f"seed{seed}", seed=seed, duration=args.duration
        ):
            rows[row.bug].append(row)
            print(
                f"  seed {seed} {row.bug:17} caught={row.caught} checks={','.join(row.checks) or '-'} latency={row.latency}",
                flush=True,
            )
    print()
    print(
        f"{'class':17} {'caught':>7} {'intended check':16} {'checks fired':34} {'latency s (median, max)':>24} {'run s':>6}"
    )
    missed = 0
    for name in names:
        rs = rows[name]
        caught = sum(r.caught for r in rs)
        missed += len(rs) - caught
        fired = sorted({c for r in rs for c in r.checks})
        lat = [r.latency for r in rs if r.latency is not None]
        lat_text = f"{statistics.median(lat):.3f}, {max(lat):.3f}" if lat else "-"
        check = rs[0].check if rs else "-"
        print(
            f"{name:17} {caught:>3}/{len(rs):<3} {check:16} {','.join(fired) or '-':34} {lat_text:>24} "
            f"{statistics.median(r.seconds for r in rs):>6.1f}"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
