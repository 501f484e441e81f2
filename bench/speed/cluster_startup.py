"""Time to a healthy 3-member cluster, and to tear it down, per backend.

Each round starts a fresh cluster (new namespaces or containers, empty data), waits until
every member answers /health, then stops it and removes everything. The Docker image is
built before timing (it is cached by binary hash), so rounds measure the cluster alone.

    python -m bench.speed.cluster_startup [--etcd-version 3.5.1] [--rounds 3] [--backends process,docker]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

from harness.cluster import ClusterError, make_cluster
from harness.cluster.binaries import resolve
from harness.cluster.dockerd import ensure_dockerd


def measure(backend: str, version: str, rounds: int, size: int, netns: bool | None) -> None:
    binary = resolve(version)
    if backend == "docker":
        ok, why = ensure_dockerd()
        if not ok:
            print(f"{backend:8} skipped: {why}")
            return
        from harness.cluster.docker import build_image, connect

        client = connect()
        build_image(client, binary)
        client.close()
    starts, stops = [], []
    label = backend
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="ehx-bench-") as out:
            c = make_cluster(backend, size, binary, out, netns=netns)
            t0 = time.monotonic()
            try:
                c.start()
            except ClusterError as exc:
                print(f"{backend:8} failed: {exc}")
                return
            starts.append(time.monotonic() - t0)
            if backend == "process":
                label = "process+netns" if c.netns_available()[0] else "process (loopback)"
            t1 = time.monotonic()
            c.stop()
            stops.append(time.monotonic() - t1)
    print(
        f"{label:20} etcd {binary.version}, {size} members, {rounds} rounds: "
        f"start to healthy median {statistics.median(starts):.2f}s (min {min(starts):.2f}, max {max(starts):.2f}); "
        f"teardown median {statistics.median(stops):.2f}s"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--etcd-version", default="3.5.1")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--size", type=int, default=3)
    p.add_argument("--backends", default="process,docker")
    args = p.parse_args()
    for backend in args.backends.split(","):
        if backend == "process":
            measure("process", args.etcd_version, args.rounds, args.size, None)
            measure("process", args.etcd_version, args.rounds, args.size, False)
        else:
            measure(backend, args.etcd_version, args.rounds, args.size, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
