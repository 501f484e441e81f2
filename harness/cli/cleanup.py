"""``etcd-harness cleanup``: remove what a killed harness left (processes, namespaces, containers)."""

from __future__ import annotations

import argparse

from harness.cluster.sweep import cleanup


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("cleanup", help="remove etcd processes, namespaces and containers of dead runs")
    p.add_argument("--all", action="store_true", help="also those of runs that are still alive")
    p.add_argument("--no-docker", action="store_true", help="do not contact the Docker engine")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    rep = cleanup(include_live=args.all, docker=not args.no_docker)
    for label, items in (
        ("processes", rep.processes),
        ("namespaces", rep.netns),
        ("links", rep.links),
        ("containers", rep.containers),
        ("networks", rep.networks),
    ):
        if items:
            print(f"removed {len(items)} {label}: {' '.join(map(str, items))}")
    if rep.skipped_live:
        print(f"left {len(rep.skipped_live)} live run(s) alone: {' '.join(rep.skipped_live)} (use --all)")
    if not rep.total():
        print("nothing to clean up")
    return 0
