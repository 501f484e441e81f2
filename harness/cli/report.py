"""`etcd-harness report HISTORY`: the HTML report of any history, ours or imported.

Takes the options of ``check`` so the page shows the verdict ``check`` would print, and
exits like ``check`` (0 ok, 1 violation, 3 unknown) so scripts can use either. With
``--no-check``, or when the checker fails, the page is written anyway, marked "not
checked": a timeline is useful before the checker is.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from harness.cli.check import parse_initial
from harness.cli.errors import internal_error_line
from harness.errors import EXIT_INTERNAL, EXIT_OK, EXIT_UNKNOWN, EXIT_VIOLATION, HarnessError
from harness.history.errors import LoadTimeout
from harness.history.importers import FORMATS, load_history
from harness.report import explain, member_labels, render_report, reproduce_command, time_unit
from models.check import check
from models.registry import MODELS, UnknownModel
from models.schema import SchemaError
from models.verdict import Verdict


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report (timeline, explanation, plots) of a history",
        description="Write report.html for a history. Exit codes as for check.",
    )
    p.add_argument("history", metavar="HISTORY")
    p.add_argument("-o", "--output", metavar="FILE", help="default: HISTORY's name + .report.html, here")
    p.add_argument("--format", default="auto", choices=["auto", *FORMATS])
    p.add_argument("--model", choices=MODELS, help="default: from the history (etcd for harness runs)")
    p.add_argument("--initial", help="initial register value for cas-register (JSON, or nil)")
    p.add_argument("--timeout", type=float, default=60.0, help="search budget in seconds")
    p.add_argument(
        "--max-states", type=int, default=None, help="memory budget: states the search may remember"
    )
    p.add_argument("--no-check", action="store_true", help="render the history without checking it")
    p.add_argument("--no-plots", action="store_true", help="leave out the matplotlib plots")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not (args.timeout > 0):
        raise HarnessError(f"--timeout must be a positive number of seconds, not {args.timeout:g}")
    started = time.monotonic()
    try:
        hist = load_history(args.history, args.format, model=args.model, deadline=started + args.timeout)
    except LoadTimeout as exc:
        print(
            f"{args.history}: unknown: time budget of {args.timeout:g} s ran out while reading (line {exc.line})"
        )
        return EXIT_UNKNOWN
    for warning in hist.warnings:
        print(f"etcd-harness: warning: {warning}", file=sys.stderr)
    model = args.model or hist.model or "etcd"
    internal = ""
    if args.no_check:
        verdict = Verdict.unchecked("--no-check", model)
    else:
        options = {"initial": parse_initial(args.initial)} if args.initial is not None else None
        remaining = max(0.001, started + args.timeout - time.monotonic())
        try:
            verdict = check(hist, args.model, options=options, timeout=remaining, max_states=args.max_states)
        except (UnknownModel, SchemaError) as exc:
            raise HarnessError(f"{args.history}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a checker crash is our bug; the page is still worth having
            internal = internal_error_line(exc)
            verdict = Verdict.unchecked(f"the {model} checker failed: {type(exc).__name__}: {exc}", model)
    stem = "stdin" if args.history == "-" else Path(args.history).name
    out = Path(args.output) if args.output else Path(stem + ".report.html")
    started = time.monotonic()
    reproduce = reproduce_command(hist, verdict, args.format)
    page = render_report(hist, verdict, plots=not args.no_plots, reproduce=reproduce)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot write {out}: {exc.strerror or exc}") from None
    elapsed = time.monotonic() - started
    print(f"{args.history}: {verdict.verdict} ({len(hist.ops)} ops, model {model})")
    if verdict.reason and verdict.verdict != "ok":
        print(f"  {verdict.reason}")
    for line in explain(verdict, hist.ops, unit=time_unit(hist), members=member_labels(hist)):
        print(f"  {line}")
    print(f"report: {out} ({len(page.encode()) / 1e6:.2f} MB, {elapsed:.2f} s)")
    if internal:
        print(f"{internal}; the page is written, marked not checked", file=sys.stderr)
        return EXIT_INTERNAL
    if verdict.verdict == "illegal":
        return EXIT_VIOLATION
    if verdict.verdict == "unknown":
        return EXIT_UNKNOWN
    return EXIT_OK
