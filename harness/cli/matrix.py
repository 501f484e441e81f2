"""`etcd-harness matrix`: the nightly job. Scenarios x versions x seeds within a budget.

It stops by itself: a run is only started when the budget can still hold it. Artifacts
of passing runs are removed (their summaries stay in the matrix summary); failures keep
everything. JUnit XML makes each run a test case for CI dashboards.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.cli.run import add_run_options, only_known_bugs
from harness.cli.shards import cells_of_round, parse_shard
from harness.errors import EXIT_INTERNAL, EXIT_OK, EXIT_UNKNOWN, EXIT_VIOLATION, HarnessError
from scenarios import SCENARIOS, Scenario, get_scenario

#: What a run costs beyond its traffic: cluster start, settling, checks, teardown.
RUN_OVERHEAD_S = 20.0
MAX_ROUNDS = 10_000


def register(sub: Any) -> None:
    p = sub.add_parser("matrix", help="nightly: scenarios x versions x seeds within a time budget")
    p.add_argument("--scenarios", default=",".join(n for n in SCENARIOS if n != "issue-13766"))
    p.add_argument(
        "--versions",
        default=None,
        help="comma-separated etcd versions, a mixed cluster as V+V+V, one per member "
        "(default: the default binary); scenarios that name their builds run once per round",
    )
    p.add_argument("--budget", type=float, default=1800.0, help="seconds for the whole matrix")
    p.add_argument("--junit", help="write JUnit XML here")
    p.add_argument("--seed", type=int, default=None, help="first seed (default: random)")
    p.add_argument("--duration", type=float, help="override every scenario's duration")
    p.add_argument(
        "--explore",
        action="store_true",
        help="each cell draws its whole configuration from its seed (as `etcd-harness explore`) "
        "instead of running named scenarios",
    )
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="run only the I-th of N disjoint parts of this matrix (same seeds whatever N is); "
        "`etcd-harness merge` joins the parts' summaries",
    )
    add_run_options(p)
    p.set_defaults(func=matrix_cmd)


def matrix_cmd(args: argparse.Namespace) -> int:
    scenarios = _scenarios(args)
    versions: list[str | None] = [v.strip() for v in args.versions.split(",")] if args.versions else [None]
    if not (args.budget > 0):
        raise HarnessError(f"--budget must be a positive number of seconds, not {args.budget:g}")
    if args.duration is not None and not (args.duration > 0):
        raise HarnessError(f"--duration must be a positive number of seconds, not {args.duration:g}")
    # Every binary up front: a version that cannot be had fails now, not in every round.
    from harness.cluster.binaries import resolve

    for v in versions:
        for part in (v or "").split("+") if v else [None]:
            resolve(part, args.etcd)
    shard = parse_shard(args.shard)
    out = Path(args.out or f"runs/matrix-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    meta = {
        "seed": seed,
        "shard": str(shard),
        "scenarios": [s.name for s in scenarios],
        "versions": versions,
        "explore": bool(args.explore),
    }
    deadline = time.monotonic() + args.budget
    shortest = min(args.duration or s.duration for s in scenarios)
    results: list[dict[str, Any]] = []
    for round_no in range(MAX_ROUNDS):
        if time.monotonic() + shortest + RUN_OVERHEAD_S > deadline:
            break
        for cell in cells_of_round(round_no, scenarios, versions, shard):
            duration = args.duration or cell.scenario.duration
            if time.monotonic() + duration + RUN_OVERHEAD_S > deadline:
                continue
            try:
                row, interrupted = _one_run(
                    args, out, results, cell.scenario, cell.version, seed + round_no, duration
                )
            except HarnessError:
                _write(out, results, args.junit, meta)  # with the error row _one_run added
                raise
            results.append(row | {"cell": cell.number})
            print(f"{row['verdict']:8} {row['name']} ({row['seconds']} s)", flush=True)
            _write(out, results, args.junit, meta)
            if interrupted:
                print(f"matrix: interrupted; summary: {out / 'summary.json'}")
                return 128 + interrupted
    _write(out, results, args.junit, meta)
    return report(out, results)


def _scenarios(args: argparse.Namespace) -> list[Scenario]:
    if args.explore:
        from harness.runner import EXPLORE_DURATION
        from harness.traffic.explore import EXPLORE

        return [Scenario(name=EXPLORE, description="drawn from each seed", duration=EXPLORE_DURATION)]
    return [get_scenario(n.strip()) for n in args.scenarios.split(",") if n.strip()]


def _one_run(
    args: argparse.Namespace,
    out: Path,
    results: list[dict[str, Any]],
    scn: Scenario,
    version: str | None,
    run_seed: int,
    duration: float,
) -> tuple[dict[str, Any], int | None]:
    """One cell of one round: its row for the summary, and the signal that stopped it.

    An environment error (binary, Docker, disk, ports) fails every later run too: the
    matrix stops there, with what ran so far written down.
    """
    from harness.cli.run import _options
    from harness.runner import run

    builds = version or ("+".join(dict.fromkeys(scn.etcd_versions)) if scn.etcd_versions else "default")
    label = f"{scn.name}-{builds}-seed{run_seed}"
    row: dict[str, Any] = {"name": label, "scenario": scn.name, "version": version, "seed": run_seed}
    args.etcd_version = version.replace("+", ",") if version else None
    args.out, args.members, args.qps = str(out / label), None, None
    opts = _options(args, scn.name, run_seed)
    opts.duration, opts.progress, opts.explore = duration, False, bool(args.explore)
    t0 = time.monotonic()
    try:
        res = run(opts)
    except HarnessError as exc:
        results.append(
            row | {"verdict": "error", "seconds": round(time.monotonic() - t0, 1), "error": str(exc)}
        )
        raise HarnessError(f"matrix stopped at {label}: {exc}", exc.exit_code) from None
    verdict = res.verdict
    if args.allow_known_bugs and only_known_bugs(res):
        verdict = "known-bug"
    if res.internal_error:
        verdict, row["error"] = "error", f"internal error: {res.internal_error}"
    figures = ("ops", "qps", "acked_writes_per_s", "revisions_per_s", "faults")
    row |= {
        "verdict": verdict,
        "known_bugs": res.summary.get("known_bugs", []),
        "seconds": round(time.monotonic() - t0, 1),
        "anomalies": res.anomalies[:10],
        "reproduce": res.reproduce,
        "dir": str(res.out_dir),
        "summary": {k: res.summary.get(k) for k in figures},
    }
    if verdict == "ok":
        shutil.rmtree(res.out_dir, ignore_errors=True)
        row["dir"] = None
    return row, res.interrupted


def report(out: Path, results: list[dict[str, Any]]) -> int:
    verdicts = {r["verdict"] for r in results}
    print(
        f"matrix: {len(results)} runs, "
        + ", ".join(f"{v}={sum(r['verdict'] == v for r in results)}" for v in sorted(verdicts))
    )
    print(f"summary: {out / 'summary.json'}")
    if "error" in verdicts:
        return EXIT_INTERNAL
    if "illegal" in verdicts:
        return EXIT_VIOLATION
    if verdicts - {"ok", "known-bug"}:
        return EXIT_UNKNOWN
    return EXIT_OK


def _write(out: Path, results: list[dict[str, Any]], junit: str | None, meta: dict[str, Any]) -> None:
    (out / "summary.json").write_text(json.dumps({"matrix": meta, "runs": results}, indent=2) + "\n")
    if junit:
        Path(junit).parent.mkdir(parents=True, exist_ok=True)
        write_junit(Path(junit), results)


def write_junit(path: Path, results: list[dict[str, Any]]) -> None:
    suite = ET.Element(
        "testsuite",
        name="etcd-harness",
        tests=str(len(results)),
        failures=str(sum(r["verdict"] == "illegal" for r in results)),
        errors=str(sum(r["verdict"] not in ("ok", "illegal", "known-bug") for r in results)),
        skipped=str(sum(r["verdict"] == "known-bug" for r in results)),
        time=str(round(sum(r["seconds"] for r in results), 1)),
    )
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"etcd-harness.{r['scenario']}",
            name=r["name"],
            time=str(r["seconds"]),
        )
        if r["verdict"] == "known-bug":
            ET.SubElement(case, "skipped", message="known etcd bugs: " + ", ".join(r.get("known_bugs") or []))
        elif r["verdict"] == "illegal":
            msgs = "; ".join(a.get("message", a.get("kind", "")) for a in r.get("anomalies", []))
            f = ET.SubElement(case, "failure", message=msgs[:500] or "violation")
            f.text = f"{msgs}\nartifacts: {r.get('dir')}\nreproduce: {r.get('reproduce')}"
        elif r["verdict"] != "ok":
            e = ET.SubElement(case, "error", message=r.get("error") or r["verdict"])
            e.text = r.get("reproduce") or ""
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
