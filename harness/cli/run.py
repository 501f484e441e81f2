"""`etcd-harness run`, `reproduce` and `scenarios`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec

from harness.cluster import BACKENDS
from harness.errors import EXIT_INTERNAL, EXIT_OK, EXIT_UNKNOWN, EXIT_VIOLATION, HarnessError
from harness.traffic.plan import Plan
from scenarios import SCENARIOS, get_scenario


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run a named scenario against a real etcd cluster")
    p.add_argument("scenario", help="a name from `etcd-harness scenarios`")
    add_run_options(p)
    p.add_argument("--seed", type=int, default=None, help="plan seed (default: random, printed)")
    p.add_argument("--members", type=int, help="cluster size (default: the scenario's)")
    p.add_argument("--duration", type=float, help="seconds of traffic (default: the scenario's)")
    p.add_argument("--qps", type=float, help="request rate over all clients; 0 = unthrottled")
    p.set_defaults(func=run_cmd)

    e = sub.add_parser(
        "explore",
        help="a run whose configuration (cluster, etcd flags, traffic, faults) is drawn from the seed",
    )
    add_run_options(e)
    e.add_argument("--seed", type=int, default=None, help="draws everything (default: random, printed)")
    e.add_argument("--duration", type=float, help="seconds of traffic (default: 20)")
    e.set_defaults(func=explore_cmd)

    r = sub.add_parser("reproduce", help="rerun the plan of an earlier run directory")
    r.add_argument("dir", help="a run directory holding plan.json")
    add_run_options(r)
    r.set_defaults(func=reproduce_cmd)

    s = sub.add_parser("scenarios", help="list the named scenarios")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=scenarios_cmd)


def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=BACKENDS, default="process")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--etcd", metavar="PATH", help="etcd binary to run (PATH,PATH,...: one per member)")
    g.add_argument(
        "--etcd-version",
        metavar="V",
        help="etcd version from the local cache, fetched when known (V,V,...: one per member)",
    )
    p.add_argument(
        "--endpoints", help="URL,...: test a cluster the harness did not start (faults are skipped)"
    )
    p.add_argument("--out", help="artifact directory (default: runs/<scenario>-seed<N>-<time>)")
    p.add_argument(
        "--no-netns", action="store_true", help="process backend: members on 127.0.0.1, no partitions"
    )
    p.add_argument("--snapshot-count", type=int, help="etcd --snapshot-count (default: etcd's own)")
    p.add_argument(
        "--tls", action="store_true", help="client and peer traffic over TLS, with a CA made for the run"
    )
    p.add_argument(
        "--auth",
        action="store_true",
        help="authentication on: traffic runs as a test user with prefix permissions",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="spread the plan's clients over N processes (one core each), merged into one history",
    )
    p.add_argument("--check-timeout", type=float, default=300.0)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--allow-known-bugs",
        action="store_true",
        help="exit 0 when every anomaly is a known bug of the etcd version under test",
    )


def _options(args: argparse.Namespace, scenario: str, seed: int, plan: Plan | None = None) -> Any:
    from harness.run_options import RunOptions

    qps: float | None = -1.0
    if getattr(args, "qps", None) is not None:
        if args.qps < 0:
            raise HarnessError(f"--qps must be positive (0: unthrottled), not {args.qps:g}")
        qps = None if args.qps == 0 else args.qps
    return RunOptions(
        scenario=scenario,
        seed=seed,
        backend=args.backend,
        etcd=args.etcd,
        etcd_version=args.etcd_version,
        members=getattr(args, "members", None),
        duration=getattr(args, "duration", None),
        qps=qps,
        out=args.out,
        endpoints=[e.strip() for e in args.endpoints.split(",") if e.strip()]
        if args.endpoints is not None
        else None,
        netns=False if args.no_netns else None,
        check_timeout=args.check_timeout,
        plan=plan,
        progress=not args.no_progress,
        snapshot_count=args.snapshot_count,
        tls=args.tls,
        auth=getattr(args, "auth", False),
        workers=getattr(args, "workers", 1),
    )


def run_cmd(args: argparse.Namespace) -> int:
    import random

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    get_scenario(args.scenario)
    return execute(_options(args, args.scenario, seed), allow_known_bugs=args.allow_known_bugs)


def explore_cmd(args: argparse.Namespace) -> int:
    import random

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    opts = _options(args, "explore", seed)
    opts.explore = True
    return execute(opts, allow_known_bugs=args.allow_known_bugs)


def read_plan(plan_file: Path) -> Plan:
    """A saved plan.json, or one clear line about why it cannot be replayed."""
    try:
        return Plan.from_json(plan_file.read_bytes())
    except OSError as exc:
        raise HarnessError(f"{plan_file}: cannot read: {exc.strerror or exc}") from None
    except msgspec.DecodeError as exc:
        raise HarnessError(f"{plan_file}: not a plan: {exc}") from None


def reproduce_cmd(args: argparse.Namespace) -> int:
    from harness.shrink.distilled import is_distilled, reproduce_distilled

    path = Path(args.dir)
    if path.is_dir() and is_distilled(path):
        return reproduce_distilled(path, args.out, args.etcd_version, args.etcd, args.backend)
    plan = read_plan(path / "plan.json" if path.is_dir() else path)
    if args.out is None:
        args.out = str(path.parent / f"{path.name}-reproduced") if path.is_dir() else None
    return execute(_options(args, plan.scenario, plan.seed, plan), allow_known_bugs=args.allow_known_bugs)


def execute(opts: Any, *, allow_known_bugs: bool = False) -> int:
    from harness.run_options import validate_options
    from harness.runner import run

    validate_options(opts)
    print(
        f"etcd-harness: scenario {opts.scenario}, seed {opts.seed}, backend {opts.backend}", file=sys.stderr
    )
    if opts.progress and sys.stderr.isatty():
        result = _run_with_progress(opts)
    else:
        result = run(opts)
    return report_result(result, allow_known_bugs=allow_known_bugs)


def _run_with_progress(opts: Any) -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from harness.runner import run

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        transient=True,
    ) as progress:
        task = progress.add_task(opts.scenario, total=1.0, info="starting cluster")

        def update(snap: dict[str, Any]) -> None:
            errors = sum(snap["errors"].values())
            faults = ", ".join(snap["faults"]) or "-"
            progress.update(
                task,
                completed=min(1.0, snap["elapsed"] / max(snap["duration"], 0.001)),
                info=f"{snap['qps']:.0f} ops/s  {snap['ops']} ops  {errors} errors  fault: {faults}",
            )

        return run(opts, on_progress=update)


def only_known_bugs(result: Any) -> bool:
    """A violation whose every anomaly a known bug of the tested etcd version explains."""
    s = result.summary
    return result.verdict == "illegal" and bool(s.get("known_bugs")) and s.get("unexplained_anomalies") == 0


def report_result(result: Any, *, allow_known_bugs: bool = False) -> int:
    s = result.summary
    headline = result.verdict.upper()
    if result.interrupted:
        headline = f"INTERRUPTED by {s.get('interrupted') or result.interrupted} ({result.verdict} so far)"
    print(
        f"{headline}: {s.get('ops', 0)} ops in {s.get('duration_s', 0)} s "
        f"({s.get('qps', 0)} ops/s, {s.get('acked_writes_per_s', 0)} acked writes/s, {s.get('revisions_per_s', 0)} revisions/s), "
        f"{len(s.get('faults', []))} faults, checked in {s.get('check_seconds', 0)} s"
    )
    for line in result.explanation:
        print(f"  {line}")
    if s.get("known_bugs"):
        unexplained = s.get("unexplained_anomalies", 0)
        print(
            f"known etcd bugs: {', '.join(s['known_bugs'])}"
            + (f"; {unexplained} anomalies no known bug explains" if unexplained else "; nothing else")
        )
    print(f"artifacts: {result.out_dir}")
    print(f"reproduce: {result.reproduce}")
    if result.internal_error:
        print(
            f"etcd-harness: internal error (a bug in etcd-harness): {result.internal_error}", file=sys.stderr
        )
        return EXIT_INTERNAL
    if result.interrupted:
        return 128 + int(result.interrupted)
    if allow_known_bugs and only_known_bugs(result):
        return EXIT_OK
    return {"ok": EXIT_OK, "illegal": EXIT_VIOLATION}.get(result.verdict, EXIT_UNKNOWN)


def scenarios_cmd(args: argparse.Namespace) -> int:
    if args.json:
        import json

        rows = [
            {
                "name": s.name,
                "description": s.description,
                "profile": s.profile,
                "faults": [f.name for f in s.faults],
                "members": s.members,
                "duration": s.duration,
                "qps": s.qps,
            }
            for s in SCENARIOS.values()
        ]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    width = max(len(n) for n in SCENARIOS)
    for s in SCENARIOS.values():
        faults = ",".join(sorted({f.name for f in s.faults})) or "none"
        qps = "unthrottled" if s.qps is None else f"{s.qps:g} qps"
        print(f"{s.name:<{width}}  {s.profile:<10} {faults:<16} {s.members} members  {s.duration:g}s  {qps}")
        print(f"{'':<{width}}  {s.description}")
    return EXIT_OK
