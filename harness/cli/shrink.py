"""`etcd-harness shrink DIR`: the smallest plan that still fails the way DIR's run did.

Every candidate runs in its own directory under ``OUT/candidates``; whatever stops the
shrink (done, the budget, Ctrl-C), the best plan so far is written out, with its run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.cli.run import read_plan
from harness.errors import EXIT_OK, EXIT_VIOLATION, HarnessError
from harness.traffic.plan import Plan


def register(sub: Any) -> None:
    p = sub.add_parser("shrink", help="rerun a failed run's plan with less, keeping what still fails")
    p.add_argument("dir", help="a run directory whose checks found an anomaly")
    p.add_argument("--tries", type=int, default=3, help="runs per candidate before it counts as passing")
    p.add_argument("--budget", type=float, default=1800.0, help="seconds for the whole shrink")
    p.add_argument("--out", help="output directory (default: DIR-shrunk)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--etcd", metavar="PATH", help="etcd binary to run")
    g.add_argument("--etcd-version", metavar="V", help="etcd version (default: the plan's)")
    p.add_argument("--check-timeout", type=float, default=300.0)
    p.add_argument("--no-progress", action="store_true", help="plain lines even on a terminal")
    p.add_argument(
        "--no-distill",
        action="store_true",
        help="skip replaying the anomaly's own calls from one client; shrink the plan only",
    )
    p.set_defaults(func=shrink_cmd)


def load(path: Path) -> tuple[Plan, dict[str, Any]]:
    """The plan and summary of a failed run; one clear error for anything else."""
    if not path.is_dir():
        raise HarnessError(f"{path}: not a run directory")
    plan = read_plan(path / "plan.json")
    summary_file = path / "summary.json"
    if not summary_file.exists():
        return plan, _checked_summary(path)
    try:
        summary = json.loads(summary_file.read_text())
    except OSError as exc:
        raise HarnessError(
            f"{summary_file}: cannot read (a run that never finished?): {exc.strerror or exc}"
        ) from None
    except ValueError as exc:
        raise HarnessError(f"{summary_file}: not a summary: {exc}") from None
    return plan, summary if isinstance(summary, dict) else {}


def _checked_summary(path: Path) -> dict[str, Any]:
    """A directory with a plan and a history but no summary (a regression's): the
    history's own check says what to shrink."""
    from harness.shrink.output import run_history
    from models.check import check

    hist = run_history(path)
    if hist is None:
        raise HarnessError(f"{path}: no summary.json and no readable history.jsonl")
    verdict = check(hist, timeout=300)
    return {"verdict": verdict.verdict, "anomalies": verdict.anomaly_dicts(), "ops": len(hist.ops)}


def _out_dir(args: argparse.Namespace, source: Path) -> Path:
    out = Path(args.out) if args.out else source.parent / f"{source.name}-shrunk"
    if out.exists() and any(out.iterdir()):
        raise HarnessError(f"{out} exists and is not empty: remove it or pass --out")
    try:
        (out / "candidates").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"cannot write to {out}: {exc.strerror or exc}") from None
    return out


def shrink_cmd(args: argparse.Namespace) -> int:
    from harness.cluster.binaries import resolve
    from harness.shrink.live import LiveReproducer, Target
    from harness.shrink.output import rate_text, write_output
    from harness.shrink.search import Search

    if args.tries < 1:
        raise HarnessError(f"--tries must be at least 1, not {args.tries}")
    if not args.budget > 0:
        raise HarnessError(f"--budget must be a positive number of seconds, not {args.budget:g}")
    source = Path(args.dir)
    plan, summary = load(source)
    target = Target.from_summary(summary)
    if target is None:
        raise HarnessError(
            f"{source}: the run found no anomaly (verdict {summary.get('verdict')}): nothing to shrink"
        )
    if args.etcd or args.etcd_version:
        resolve(args.etcd_version, args.etcd)
    out = _out_dir(args, source)
    budget = args.budget
    if not args.no_distill:
        spent = _distill(args, source, out, target)
        if spent is None:
            return EXIT_OK
        budget = max(1.0, budget - spent)
    reproduce = LiveReproducer(target, out / "candidates", args.etcd_version, args.etcd, args.check_timeout)
    print(
        f"etcd-harness: shrinking {source} ({target.text()}; {summary.get('ops', '?')} ops) into {out}, "
        f"{args.tries} tries per candidate, budget {budget:g} s",
        file=sys.stderr,
    )
    with Display(live=not args.no_progress and sys.stderr.isatty()) as display:
        outcome = Search(plan, reproduce, tries=args.tries, budget=budget, on_event=display.update).run()
    record = write_output(out, outcome, source, target)
    before, after = record["original"], record["final"]
    print(
        f"{outcome.stopped.upper()}: {before['operations']} -> {after['operations']} ops, "
        f"{before['clients']} -> {after['clients']} clients, {before['watchers']} -> {after['watchers']} watchers, "
        f"{before['faults']} -> {after['faults']} faults, {before['members']} -> {after['members']} members, "
        f"{before['duration']:g} -> {after['duration']:g} s; {outcome.candidates} candidates in {outcome.runs} runs, "
        f"{outcome.elapsed:.0f} s; {rate_text(outcome.rate)}"
    )
    print(f"shrunk: {out}")
    print(f"reproduce: etcd-harness reproduce {out}")
    if outcome.stopped == "interrupted":
        return 128 + (outcome.signal or 2)
    return EXIT_VIOLATION if outcome.best_trial is None else EXIT_OK


def _distill(args: argparse.Namespace, source: Path, out: Path, target: Any) -> float | None:
    """Replay the anomaly's own calls first; None when that reproduced (and is written
    out), else the seconds it took from the budget."""
    from harness.shrink.distilled import try_distill
    from harness.shrink.output import rate_text

    def line(label: str, trial: Any, state: Any) -> None:
        what = "reproduced" if trial.reproduced else f"not reproduced ({trial.note or '-'})"
        best = f"best {state.best.calls()} calls" if state.best is not None else "nothing yet"
        print(f"distill {label}: {what} in {trial.seconds:.0f} s; runs {state.runs}; {best}", file=sys.stderr)

    print(f"etcd-harness: distilling the calls behind {target.text()} from {source}", file=sys.stderr)
    result, why = try_distill(
        source, out, target, tries=args.tries, budget=args.budget,
        etcd_version=args.etcd_version, etcd=args.etcd, on_run=line,
    )  # fmt: skip
    if result is not None and result.best is not None:
        record = json.loads((out / "shrink.json").read_text())
        print(
            f"DISTILLED: {record['original']['operations']} -> {record['final']['calls']} calls "
            f"({record['final']['operations']} ops); {result.candidates} candidates in {result.runs} runs, "
            f"{result.elapsed:.0f} s; {rate_text(result.rate)}"
        )
        print(f"shrunk: {out}")
        print(f"reproduce: etcd-harness reproduce {out}   (or: pytest {out / 'test_reproduction.py'})")
        return None
    print(f"etcd-harness: {why}; shrinking the plan instead", file=sys.stderr)
    return result.elapsed if result is not None else 0.0


class Display:
    """Candidates tried, size and best so far, elapsed of budget: a live line on a
    terminal, one plain line per run otherwise (logs, CI)."""

    def __init__(self, live: bool):
        self.live = live
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> Display:
        if self.live:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("[bold]shrink"),
                BarColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"),
                transient=True,
                console=_console(),
            )
            self.progress.__enter__()
            self.task = self.progress.add_task("shrink", total=1.0, info="first candidate")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)

    def update(self, ev: Any) -> None:
        what = "reproduced" if ev.trial.reproduced else f"not reproduced ({ev.trial.note or '-'})"
        ops = f"{ev.best_ops} ops, " if ev.best_ops is not None else ""
        line = (
            f"{ev.phase} {ev.label}: {what} in {ev.trial.seconds:.0f} s; candidates {ev.candidates}, "
            f"runs {ev.runs}; best {ops}{ev.best.text()}; {ev.elapsed:.0f}/{ev.budget:g} s"
        )
        if self.progress is None:
            print(line, file=sys.stderr, flush=True)
            return
        self.progress.console.print(line)
        self.progress.update(
            self.task,
            completed=min(1.0, ev.elapsed / ev.budget),
            info=f"{ev.candidates} candidates, best {ops}{ev.best.text()}",
        )


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
