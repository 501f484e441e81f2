"""Acknowledged writes per second of one plan run with 1, 2, ... traffic workers.

Each run gets a fresh 3-member cluster on 127.0.0.1 (data in /dev/shm) that the harness
did not start, so the plan's faults are skipped and what is measured is the traffic:
the same plan (scenario and seed) with its clients in one process, then spread over N.
Prints, per worker count and round, the acknowledged writes per second from the run's
summary, the CPU the harness (its workers included) and the members used per write,
and the medians with the speed-up over one worker. On two cores the members and the
clients share the machine, so the members' CPU per write is what bounds the scaling.

    python -m bench.speed.workers [--scenario kill-under-load] [--workers 1,2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import sys
import tempfile
from pathlib import Path

from bench.speed.client_throughput import cluster_cpu_seconds, start_cluster, stop_cluster
from harness.runner import RunOptions, run


def harness_cpu() -> float:
    """CPU of this process and of its children that ended (the workers, once joined)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def one_run(args: argparse.Namespace, workers: int, out: Path) -> tuple[float, float, float]:
    """(acked writes/s, harness CPU us/write, etcd CPU us/write) of one run."""
    base = tempfile.mkdtemp(prefix="etcd-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    procs, endpoints = start_cluster(args.etcd, 3, base)
    try:
        c0, e0 = harness_cpu(), cluster_cpu_seconds(procs)
        opts = RunOptions(
            scenario=args.scenario, seed=args.seed, endpoints=[f"http://{ep}" for ep in endpoints],
            duration=args.seconds, out=str(out), progress=False, workers=workers, qps=None,
        )  # fmt: skip
        run(opts)
        cpu, etcd = harness_cpu() - c0, cluster_cpu_seconds(procs) - e0
    finally:
        stop_cluster(procs)
        shutil.rmtree(base, ignore_errors=True)
    summary = json.loads((out / "summary.json").read_text())
    writes = summary["acked_writes_per_s"] * args.seconds
    return summary["acked_writes_per_s"], 1e6 * cpu / max(writes, 1), 1e6 * etcd / max(writes, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--etcd", default="/usr/bin/etcd")
    ap.add_argument("--scenario", default="kill-under-load", help="its clients and programs (faults skipped)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="etcd-bench-workers-"))
    rates: dict[int, list[float]] = {n: [] for n in counts}
    # SIGTERM unwinds like Ctrl-C, so the cluster of the run in progress is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        for r in range(args.rounds):
            for n in counts if r % 2 == 0 else counts[::-1]:
                rate, cpu, etcd = one_run(args, n, tmp / f"w{n}-r{r}")
                rates[n].append(rate)
                print(
                    f"round {r}: {n} worker(s): {rate:7.0f} acked writes/s, harness CPU {cpu:5.0f} us/write, "
                    f"etcd CPU {etcd:5.0f} us/write",
                    flush=True,
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    one = statistics.median(rates[counts[0]])
    for n in counts:
        m = statistics.median(rates[n])
        print(f"MEDIAN {n} worker(s): {m:.0f} acked writes/s = {m / one:.2f}x of {counts[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
