"""Benchmark of the etcd checker on a simulated 60 s run at ~1000 QPS.

Usage: python -m bench.speed.check_etcd [--ops 60000] [--clients 8] [--unknown-rate 0.005] [--seed 1]

Prints the simulation size, the check time per phase and the peak memory of the check
(tracemalloc, Python allocations) and the process's max RSS.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

from models.etcd import check_history
from tests.common.simulator import SimConfig, simulate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=60_000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--unknown-rate", type=float, default=0.005)
    ap.add_argument("--watches", type=int, default=4)
    ap.add_argument("--keys", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-tracemalloc", action="store_true", help="time without tracemalloc overhead")
    args = ap.parse_args()

    t0 = time.monotonic()
    cfg = SimConfig(
        seed=args.seed,
        clients=args.clients,
        ops=args.ops,
        keys=args.keys,
        unknown_rate=args.unknown_rate,
        watches=args.watches,
        interval=args.clients * 780_000,  # + ~2 ms latency: ~1000 QPS in total
    )
    sim = simulate(cfg)
    h = sim.history
    span = max(o.ret or o.call for o in h.ops) / 1e9
    unknown = sum(1 for o in h.ops if o.status == "unknown")
    print(
        f"simulated {len(h.ops)} ops over {span:.1f}s ({len(h.ops) / span:.0f} QPS), {args.clients} clients, "
        f"{unknown} unknown outcomes, {len(h.watches)} watch messages, {sim.store.revision if sim.store else 0} revisions "
        f"in {time.monotonic() - t0:.1f}s"
    )
    if not args.no_tracemalloc:
        tracemalloc.start()
    t1 = time.monotonic()
    v = check_history(h)
    elapsed = time.monotonic() - t1
    peak = tracemalloc.get_traced_memory()[1] if not args.no_tracemalloc else 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"verdict {v.verdict}, {len(v.anomalies)} anomalies, check {elapsed:.2f}s")
    print(f"linearizability {v.stats.get('elapsed', 0):.2f}s, stats {v.stats}")
    if peak:
        print(f"peak traced memory during check {peak / 2**20:.1f} MiB")
    print(f"max RSS of the process {rss:.0f} MiB")
    for a in v.anomalies[:5]:
        print(" ", a)


if __name__ == "__main__":
    main()
