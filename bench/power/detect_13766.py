"""Time to detect etcd-io/etcd#13766 with the full harness, over independent attempts.

Each attempt runs the `issue-13766` scenario (unthrottled puts, a follower in a crash
loop of SIGKILLs) again and again with fresh seeds until a run
ends in a violation that no other known bug explains, or until the attempt's traffic
budget is spent. Per attempt it prints the runs, kills, traffic seconds until the
failing run ended (what a user waits for), when the first evidence appeared in that
run, and which checks fired; then the median over attempts. Run directories of
failures are kept under --out (history, plan, report, logs, data dirs).

On a build without the bug (3.4.23) the same loop is the control: it must end every
attempt without an unexplained violation, and the kills it survived are printed.

    python -m bench.power.detect_13766 --etcd-version 3.5.1 --attempts 5 --budget 300
    python -m bench.power.detect_13766 --etcd-version 3.4.23 --attempts 2 --budget 300
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from harness.runner import RunOptions, run
from scenarios import get_scenario


def first_evidence_s(out: Path, anomalies: list[dict[str, Any]]) -> float | None:
    """Run time (s) of the earliest return among the operations the anomalies name."""
    ids = {i for a in anomalies for i in a.get("ops", [])}
    if not ids:
        return None
    best: int | None = None
    with open(out / "history.jsonl", "rb") as f:
        for line in f:
            if not line.startswith(b'{"type":"op"'):
                continue
            rec = json.loads(line)
            if rec["id"] in ids:
                t = rec.get("return", rec["call"])
                best = t if best is None else min(best, t)
    return None if best is None else best / 1e9


def attempt(args: argparse.Namespace, index: int, root: Path) -> dict[str, Any]:
    traffic = 0.0
    kills = 0
    runs = 0
    started = time.monotonic()
    known: set[str] = set()
    for i in range(10_000):
        if traffic + args.run_seconds > args.budget:
            break
        seed = args.seed + 1000 * index + i
        out = root / f"attempt{index}-seed{seed}"
        shutil.rmtree(out, ignore_errors=True)
        res = run(
            RunOptions(
                scenario="issue-13766",
                seed=seed,
                etcd=args.etcd,
                etcd_version=args.etcd_version,
                duration=args.run_seconds,
                out=str(out),
                progress=False,
            )
        )
        runs += 1
        s = res.summary
        kills += sum(1 for f in s.get("faults", []) if f["kind"] == "kill")
        run_traffic = float(s.get("duration_s") or args.run_seconds)
        known.update(s.get("known_bugs", []))
        unexplained = [a for a in res.anomalies if "known_bug" not in a.get("details", {})]
        lost = [
            a
            for a in res.anomalies
            if a.get("details", {}).get("known_bug", {}).get("id") == "etcd-io/etcd#13766"
        ]
        print(
            f"  attempt {index} run {i} seed {seed}: {res.verdict}, {s.get('acked_writes_per_s')} acked writes/s, {s.get('revisions_per_s')} revisions/s, "
            f"{kills} kills so far, known bugs {s.get('known_bugs', [])}, unexplained {len(unexplained)}",
            flush=True,
        )
        if res.verdict == "unknown":
            # Not a finding, but never thrown away: the check could not decide this one.
            keep = root / f"unknown-attempt{index}-seed{seed}"
            shutil.rmtree(keep, ignore_errors=True)
            out.rename(keep)
            print(f"    check ended unknown ({s.get('reason') or 'budget'}): kept {keep}", flush=True)
        if lost or unexplained:
            found = lost + unexplained
            evidence = first_evidence_s(out, found)
            return {
                "attempt": index,
                "detected": True,
                "runs": runs,
                "kills": kills,
                "traffic_s": round(traffic + run_traffic, 1),
                "evidence_at_s": round(traffic + evidence, 1) if evidence is not None else None,
                "wall_s": round(time.monotonic() - started, 1),
                "checks": sorted({a["kind"] for a in found}),
                "known_bugs": sorted(known),
                "explained_as_13766": bool(lost) and not unexplained,
                "first": found[0]["message"][:300],
                "dir": str(out),
            }
        traffic += run_traffic
        shutil.rmtree(out, ignore_errors=True)
    return {
        "attempt": index,
        "detected": False,
        "runs": runs,
        "kills": kills,
        "traffic_s": round(traffic, 1),
        "wall_s": round(time.monotonic() - started, 1),
        "known_bugs": sorted(known),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--etcd", metavar="PATH")
    g.add_argument("--etcd-version", default="3.5.1")
    ap.add_argument("--attempts", type=int, default=3)
    ap.add_argument("--budget", type=float, default=300.0, help="traffic seconds per attempt")
    ap.add_argument(
        "--run-seconds", type=float, default=None, help="traffic seconds per run (default: the scenario's)"
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="runs/detect-13766")
    args = ap.parse_args()
    if args.etcd:
        args.etcd_version = None
    if args.run_seconds is None:
        args.run_seconds = get_scenario("issue-13766").duration
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    label = args.etcd or args.etcd_version
    print(
        f"etcd {label}: {args.attempts} attempts, {args.budget:g} s of traffic each, runs of {args.run_seconds:g} s"
    )
    results = [attempt(args, a, root) for a in range(args.attempts)]
    print()
    print(
        f"{'attempt':>7} {'found':>5} {'runs':>4} {'kills':>5} {'traffic s':>9} {'evidence s':>10} {'wall s':>7}  checks"
    )
    for r in results:
        print(
            f"{r['attempt']:>7} {('yes' if r['detected'] else 'no'):>5} {r['runs']:>4} {r['kills']:>5} "
            f"{r['traffic_s']:>9} {str(r.get('evidence_at_s', '-')):>10} {r['wall_s']:>7}  "
            f"{','.join(r.get('checks', [])) or '-'}"
        )
    found = [r for r in results if r["detected"]]
    kills = sum(r["kills"] for r in results)
    print()
    print(f"detected in {len(found)} of {len(results)} attempts; {kills} kills in all")
    if found:
        print(
            f"median traffic seconds to detection: {statistics.median(r['traffic_s'] for r in found):.1f} "
            f"(first evidence at median {statistics.median(r['evidence_at_s'] or 0 for r in found):.1f} s)"
        )
        for r in found:
            print(f"  attempt {r['attempt']}: {r['first']}")
            print(f"    artifacts: {r['dir']}")
    (root / "detect.json").write_text(json.dumps({"etcd": label, "attempts": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
