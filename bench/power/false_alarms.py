"""False alarms: every named scenario on builds that must pass, on both backends, in rounds
of fresh seeds until enough runs had faults injected.

3.4.23 runs every scenario; 3.5.1 runs the ones without kill faults (its kill-time data
loss, etcd-io/etcd#13766, is a real bug, not an alarm). Known bugs of the build are
allowed, as ``--allow-known-bugs`` does: an anomaly a known bug of that version
explains is counted in its own column. Any other anomaly is unexplained: a harness
defect until shown otherwise. Its run directory is kept (and so is every run that
ended unknown or in an error), for the root cause to be found and the history to
become a regression test.

    python -m bench.power.false_alarms                          # >= 100 fault runs, both backends
    python -m bench.power.false_alarms --min-fault-runs 10 --backends process --scenarios smoke,watch
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.runner import RunOptions, run
from harness.signals import Interrupted, exit_code
from scenarios import SCENARIOS

#: Builds whose kill-time data loss is a known bug (etcd-io/etcd#13766): no kill scenarios.
KILL_LOSES_WRITES = ("3.5.0", "3.5.1", "3.5.2")


def scenarios_for(version: str, names: list[str] | None, *, first: bool = True) -> list[str]:
    """The scenarios to run on ``version``; those that name their own builds run once
    per round, with the first version."""
    chosen = [n for n in names or list(SCENARIOS) if first or not SCENARIOS[n].etcd_versions]
    if version.startswith(KILL_LOSES_WRITES):
        chosen = [
            n
            for n in chosen
            if SCENARIOS[n].etcd_versions or not any(f.name == "kill" for f in SCENARIOS[n].faults)
        ]
    return chosen


def builds_of(name: str, version: str) -> str:
    """What a row ran: the bench's version, or the builds the scenario names."""
    fixed = SCENARIOS[name].etcd_versions if name in SCENARIOS else ()
    return "+".join(dict.fromkeys(fixed)) if fixed else version


def outcome_of(res: Any) -> tuple[str, int]:
    """(outcome, unexplained anomalies) of one run, known bugs of its build allowed."""
    s = res.summary
    if res.internal_error:
        return "error", 0
    unexplained = int(s.get("unexplained_anomalies", len(res.anomalies)))
    if res.verdict == "ok":
        return "ok", 0
    if res.verdict == "illegal":
        return ("known-bug", 0) if unexplained == 0 else ("VIOLATION", unexplained)
    return "unknown", 0


def one_run(name: str, version: str, backend: str, seed: int, out: Path, workers: int = 1) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.monotonic()
    row: dict[str, Any] = {
        "version": builds_of(name, version),
        "backend": backend,
        "scenario": name,
        "seed": seed,
    }
    own = bool(name in SCENARIOS and SCENARIOS[name].etcd_versions)
    try:
        res = run(
            RunOptions(
                scenario=name,
                seed=seed,
                etcd_version=None if own else version,
                backend=backend,
                out=str(out),
                progress=False,
                workers=workers,
            )
        )
    except HarnessError as exc:
        row.update(outcome="error", unexplained=0, faults=0, note=str(exc), seconds=time.monotonic() - t0)
        return row
    except Exception as exc:  # noqa: BLE001 - one broken run must not end the bench
        row.update(
            outcome="error", unexplained=0, faults=0, note=traceback.format_exception_only(exc)[-1].strip()
        )
        row["seconds"] = time.monotonic() - t0
        return row
    if res.interrupted:
        # The run stopped for the signal; so does the bench (the table so far is printed).
        raise Interrupted(int(res.interrupted))
    outcome, unexplained = outcome_of(res)
    s = res.summary
    first = next((a for a in res.anomalies if "known_bug" not in a.get("details", {})), None)
    note = ""
    if outcome == "VIOLATION" and first:
        note = first["message"][:160]
    elif outcome in ("unknown", "error"):
        note = str(s.get("reason") or res.internal_error or "")[:160]
    row.update(
        outcome=outcome,
        unexplained=unexplained,
        known_bugs=s.get("known_bugs", []),
        faults=len(s.get("faults", [])),
        ops=s.get("ops", 0),
        writes_per_s=s.get("acked_writes_per_s", 0),
        note=note,
        seconds=round(time.monotonic() - t0, 1),
    )
    if outcome in ("ok", "known-bug"):
        shutil.rmtree(out, ignore_errors=True)
    else:
        row["kept"] = str(out)
    return row


def notes_of(row: dict[str, Any]) -> str:
    """Known bugs, the note, and where a kept run is, for one line of progress."""
    notes = ",".join(row.get("known_bugs", []))
    if row.get("note"):
        notes = f"{notes} {row['note']}".strip()
    if row.get("kept"):
        notes += f" -> {row['kept']}"
    return notes


def print_table(rows: list[dict[str, Any]]) -> None:
    cells: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        cells[(r["version"], r["scenario"], r["backend"])].append(r)
    head = (
        f"{'version':8} {'scenario':22} {'backend':8} {'runs':>4} {'fault runs':>10} {'faults':>6} "
        f"{'ok':>4} {'known-bug':>9} {'unknown':>7} {'error':>5} {'unexplained':>11}  known bugs"
    )
    print(head)
    print("-" * len(head))
    for (version, scenario, backend), mine in cells.items():
        c = Counter(r["outcome"] for r in mine)
        bugs = Counter(b for r in mine for b in r.get("known_bugs", []))
        print(
            f"{version:8} {scenario:22} {backend:8} {len(mine):>4} {sum(r['faults'] > 0 for r in mine):>10} "
            f"{sum(r['faults'] for r in mine):>6} {c['ok']:>4} {c['known-bug']:>9} {c['unknown']:>7} "
            f"{c['error']:>5} {sum(r['unexplained'] for r in mine):>11}  "
            + (", ".join(f"{b} x{n}" for b, n in bugs.items()) or "-")
        )
    print("-" * len(head))
    c = Counter(r["outcome"] for r in rows)
    print(
        f"{'total':8} {'':22} {'':8} {len(rows):>4} {sum(r['faults'] > 0 for r in rows):>10} "
        f"{sum(r['faults'] for r in rows):>6} {c['ok']:>4} {c['known-bug']:>9} {c['unknown']:>7} "
        f"{c['error']:>5} {sum(r['unexplained'] for r in rows):>11}"
    )


def run_rounds(
    args: argparse.Namespace,
    names: list[str] | None,
    versions: list[str],
    backends: list[str],
    root: Path,
    rows: list[dict[str, Any]],
) -> None:
    for rnd in range(args.max_rounds):
        if sum(r["faults"] > 0 for r in rows) >= args.min_fault_runs:
            break
        seed = args.first_seed + rnd
        for version in versions:
            for backend in backends:
                for name in scenarios_for(version, names, first=version == versions[0]):
                    out = root / f"{name}-{builds_of(name, version)}-{backend}-seed{seed}"
                    row = one_run(name, version, backend, seed, out, args.workers)
                    rows.append(row)
                    print(
                        f"{row['version']:8} {backend:8} {name:22} {seed:>5} {row['outcome']:9} {row['faults']:>6} "
                        f"{row['seconds']:>5.0f}  {notes_of(row)}",
                        flush=True,
                    )
                    (root / "false_alarms.json").write_text(json.dumps(rows, indent=2) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--min-fault-runs", type=int, default=100, help="rounds go on until this many fault runs")
    ap.add_argument("--max-rounds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--versions", default="3.4.23,3.5.1")
    ap.add_argument("--backends", default="process,docker")
    ap.add_argument("--scenarios", help="comma-separated (default: all)")
    ap.add_argument("--out", default="runs/false-alarms")
    ap.add_argument(
        "--workers", type=int, default=1, help="traffic processes per run (runs with auth keep one)"
    )
    args = ap.parse_args()
    names = [n.strip() for n in args.scenarios.split(",")] if args.scenarios else None
    versions = [v.strip() for v in args.versions.split(",")]
    backends = [b.strip() for b in args.backends.split(",")]
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    print(
        f"{'version':8} {'backend':8} {'scenario':22} {'seed':>5} {'outcome':9} {'faults':>6} {'s':>5}  notes"
    )
    try:
        run_rounds(args, names, versions, backends, root, rows)
    except KeyboardInterrupt as exc:
        print(f"\ninterrupted ({exc}); the runs so far:")
        print_table(rows)
        return exit_code(exc)
    print(f"\n{len(rows)} runs in {(time.monotonic() - started) / 60:.0f} min\n")
    print_table(rows)
    return 1 if any(r["outcome"] in ("VIOLATION", "unknown", "error") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
