"""Bug-finding power of exploration: per build, N minutes of `etcd-harness explore` with
fresh seeds, no named scenario.

Prints per build the runs, the runs that had faults and the faults injected, the
outcomes, the distinct anomaly signatures (kind and the known bug that explains it, or
"unexplained"), each known bug found with the time to its first find, and the
unexplained anomalies. The first run that finds each known bug is kept (its history is
the candidate regression), and so is every run with an unexplained anomaly, an unknown
verdict or an error: each is looked at, and is a real bug (then a known_bugs entry) or
a harness defect (then fixed).

    python -m bench.power.explore                                  # 20 min per build
    python -m bench.power.explore --versions 3.5.1 --minutes 5 --first-seed 1000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bench.power.false_alarms import notes_of, outcome_of
from harness.runner import EXPLORE_DURATION, RunOptions, run
from harness.signals import Interrupted, exit_code

#: What a run costs beyond its traffic (cluster start, settling, checks, teardown):
#: a run is only started when the build's minutes can still hold it.
RUN_OVERHEAD_S = 15.0


@dataclass
class Build:
    """What the runs on one build found so far."""

    version: str
    started: float = field(default_factory=time.monotonic)
    ended: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)
    first_find: dict[str, tuple[float, int, str]] = field(default_factory=dict)
    signatures: Counter[tuple[str, str]] = field(default_factory=Counter)


def signatures_of(anomalies: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for a in anomalies:
        bug = a.get("details", {}).get("known_bug") or {}
        out.append((a["kind"], bug.get("id", "unexplained") if isinstance(bug, dict) else str(bug)))
    return out


def one_run(build: Build, seed: int, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    out = root / f"explore-{build.version}-seed{seed}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.monotonic()
    row: dict[str, Any] = {
        "version": build.version,
        "seed": seed,
        "faults": 0,
        "unexplained": 0,
        "dir": str(out),
    }
    opts = RunOptions(
        scenario="explore",
        seed=seed,
        etcd_version=build.version,
        backend=args.backend,
        duration=args.duration,
        out=str(out),
        progress=False,
        explore=True,
    )
    try:
        res = run(opts)
    except Exception as exc:  # noqa: BLE001 - one broken run must not end the bench
        row.update(outcome="error", note=traceback.format_exception_only(exc)[-1].strip(), kept=str(out))
        row["seconds"] = round(time.monotonic() - t0, 1)
        return row
    if res.interrupted:
        raise Interrupted(int(res.interrupted))
    outcome, unexplained = outcome_of(res)
    s = res.summary
    row.update(
        outcome=outcome,
        unexplained=unexplained,
        known_bugs=s.get("known_bugs", []),
        faults=len(s.get("faults", [])),
        signatures=sorted(set(signatures_of(res.anomalies))),
        note=str(s.get("reason") or res.internal_error or "")[:160],
        seconds=round(time.monotonic() - t0, 1),
        configuration=s.get("configuration", {}),
    )
    if outcome in ("VIOLATION", "unknown", "error"):
        row["kept"] = str(out)
    return row


def record(build: Build, row: dict[str, Any]) -> None:
    """Count the row; keep the first run of each known bug, drop other passing ones."""
    build.rows.append(row)
    build.signatures.update(tuple(s) for s in row.get("signatures", []))
    for bug in row.get("known_bugs", []):
        if bug not in build.first_find:
            build.first_find[bug] = ((time.monotonic() - build.started) / 60, row["seed"], row["dir"])
            row["kept"] = row["dir"]
    if not row.get("kept"):
        shutil.rmtree(row["dir"], ignore_errors=True)


def run_build(
    build: Build, builds: list[Build], args: argparse.Namespace, root: Path, seeds: random.Random
) -> None:
    """Runs on ``build`` until its minutes are up; ``builds`` (all so far) go to explore.json."""
    version = build.version
    deadline = build.started + args.minutes * 60
    with Progress(
        TextColumn(f"[bold]{version}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(version, total=args.minutes * 60, info="")
        while (
            time.monotonic() + args.duration + RUN_OVERHEAD_S <= deadline and len(build.rows) < args.max_runs
        ):
            seed = seeds.randrange(1 << 31)
            row = one_run(build, seed, args, root)
            record(build, row)
            print_row(row)
            c = Counter(r["outcome"] for r in build.rows)
            bar.update(
                task,
                completed=time.monotonic() - build.started,
                info=f"{len(build.rows)} runs, known bugs {len(build.first_find)}, unexplained "
                f"{sum(r['unexplained'] for r in build.rows)}, {dict(c)}",
            )
            (root / "explore.json").write_text(json.dumps(rows_of(builds), indent=2) + "\n")
    build.ended = time.monotonic()


def rows_of(builds: list[Build]) -> list[dict[str, Any]]:
    return [r for b in builds for r in b.rows]


def print_row(row: dict[str, Any]) -> None:
    cfg = row.get("configuration") or {}
    shape = f"{cfg.get('members', '?')}m {cfg.get('profile', '?')} " + ",".join(
        f["fault"] for f in cfg.get("faults", [])
    )
    print(
        f"{row['version']:8} {row['seed']:>10} {row['outcome']:9} {row['faults']:>6} {row['seconds']:>5.0f}  "
        f"{shape:40} {notes_of(row)}",
        flush=True,
    )


def print_table(builds: list[Build]) -> None:
    head = (
        f"{'build':8} {'min':>5} {'runs':>4} {'fault runs':>10} {'faults':>6} {'ok':>4} {'known-bug':>9} "
        f"{'violation':>9} {'unknown':>7} {'error':>5} {'unexplained':>11} {'signatures':>10}  known bugs (first find)"
    )
    print(head)
    print("-" * len(head))
    for b in builds:
        c = Counter(r["outcome"] for r in b.rows)
        minutes = (b.ended - b.started) / 60
        finds = ", ".join(
            f"{bug} ({m:.1f} min, seed {seed})" for bug, (m, seed, _) in sorted(b.first_find.items())
        )
        print(
            f"{b.version:8} {minutes:>5.1f} {len(b.rows):>4} {sum(r['faults'] > 0 for r in b.rows):>10} "
            f"{sum(r['faults'] for r in b.rows):>6} {c['ok']:>4} {c['known-bug']:>9} {c['VIOLATION']:>9} {c['unknown']:>7} "
            f"{c['error']:>5} {sum(r['unexplained'] for r in b.rows):>11} {len(b.signatures):>10}  "
            + (finds or "-")
        )
    print()
    for b in builds:
        for (kind, label), n in sorted(b.signatures.items()):
            print(f"  {b.version:8} {kind:28} {label:22} in {n} runs")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--versions", default="3.4.23,3.5.0,3.5.1")
    ap.add_argument("--minutes", type=float, default=20.0, help="of exploration per build")
    ap.add_argument("--duration", type=float, default=EXPLORE_DURATION, help="seconds of traffic per run")
    ap.add_argument("--backend", default="process")
    ap.add_argument("--first-seed", type=int, default=None, help="seeds the seed sequence (default: random)")
    ap.add_argument("--max-runs", type=int, default=10_000, help="per build")
    ap.add_argument("--out", default="runs/explore-power")
    args = ap.parse_args()
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    first = args.first_seed if args.first_seed is not None else random.SystemRandom().randrange(1 << 31)
    print(f"seed sequence from {first}; {args.minutes:g} min per build, {args.duration:g} s runs")
    print(f"{'build':8} {'seed':>10} {'outcome':9} {'faults':>6} {'s':>5}  {'configuration':40} notes")
    seeds = random.Random(first)
    builds: list[Build] = []
    try:
        for version in (v.strip() for v in args.versions.split(",")):
            builds.append(Build(version))
            run_build(builds[-1], builds, args, root, seeds)
    except KeyboardInterrupt as exc:
        builds[-1].ended = time.monotonic()
        print(f"\ninterrupted ({exc}); the runs so far:")
        print_table(builds)
        return exit_code(exc)
    print()
    print_table(builds)
    return 1 if any(r["outcome"] in ("VIOLATION", "error") for r in rows_of(builds)) else 0


if __name__ == "__main__":
    sys.exit(main())
