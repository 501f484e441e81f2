"""`etcd-harness selftest`: inject each bug class between the clients and a real etcd and
show which check caught it; exit 0 only when every class was caught and the control
run (no bug) passed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.errors import EXIT_OK, EXIT_VIOLATION, HarnessError


def register(sub: Any) -> None:
    from harness.selftest.bugs import BUGS

    p = sub.add_parser("selftest", help="prove every check bites: inject bugs, expect them caught")
    p.add_argument(
        "--bug",
        action="append",
        metavar="CLASS",
        help=f"bug class to inject (repeatable; default: all). Classes: none, {', '.join(BUGS)}",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--etcd", metavar="PATH", help="etcd binary to run")
    g.add_argument("--etcd-version", metavar="V", help="etcd version from the local cache")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--duration", type=float, default=6.0, help="seconds of traffic per class")
    p.add_argument("--out", default="runs/selftest", help="artifacts of classes not caught are kept here")
    p.add_argument("--no-netns", action="store_true", help="members on 127.0.0.1")
    p.add_argument("--keep", action="store_true", help="keep the artifacts of every class")
    p.add_argument("--tls", action="store_true", help="cluster, interposers and clients over TLS")
    p.add_argument(
        "--auth",
        action="store_true",
        help="authentication on, traffic as a test user (denies-permitted always)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per class")
    p.set_defaults(func=selftest_cmd)


def selftest_cmd(args: argparse.Namespace) -> int:
    from harness.cluster.binaries import resolve
    from harness.selftest.bugs import BUGS
    from harness.selftest.run import selftest

    names = args.bug or ["none", *BUGS]
    unknown = [n for n in names if n != "none" and n not in BUGS]
    if unknown:
        raise HarnessError(f"unknown bug class {unknown[0]!r} (known: none, {', '.join(BUGS)})")
    binary = resolve(args.etcd_version, args.etcd)

    def show(row: Any) -> None:
        if args.json:
            print(json.dumps(row.as_dict()), flush=True)
            return
        mark = "yes" if row.caught else "NO"
        fired = ",".join(row.checks) or "-"
        latency = f"{row.latency:.3f}" if row.latency is not None else "-"
        print(
            f"{row.bug:<17} {mark:<7} {row.check:<16} {fired:<36} {row.injected:>8} {latency:>9} {row.seconds:>6.1f}",
            flush=True,
        )

    if not args.json:
        print(
            f"etcd {binary.version} ({binary.path}), seed {args.seed}, {args.duration:g} s of traffic per class"
        )
        print(
            f"{'class':<17} {'caught':<7} {'intended check':<16} {'checks fired':<36} {'injected':>8} "
            f"{'evidence':>9} {'time s':>6}"
        )
    rows = selftest(
        names,
        binary=binary,
        out=Path(args.out),
        seed=args.seed,
        duration=args.duration,
        netns=False if args.no_netns else None,
        on_row=show,
        keep=args.keep,
        tls=args.tls,
        auth_on=args.auth,
    )
    missed = [r for r in rows if not r.caught]
    if not args.json:
        print(
            f"{len(rows) - len(missed)} of {len(rows)} caught"
            + (f"; missed: {', '.join(r.bug for r in missed)}" if missed else "")
        )
        for r in missed:
            print(
                f"  {r.bug}: verdict {r.verdict}, injected {r.injected}; {r.first or 'no anomaly'}; artifacts {r.dir}"
            )
    return EXIT_OK if not missed else EXIT_VIOLATION
