"""`etcd-harness check FILE...`: verdicts for recorded histories, ours or other tools'."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, NamedTuple

from harness.cli.errors import internal_error_line
from harness.errors import EXIT_INTERNAL, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE, EXIT_VIOLATION, HarnessError
from harness.history.errors import HistoryError, LoadTimeout
from harness.history.importers import FORMATS, load_history
from harness.history.stream import HistoryStream
from harness.report.evidence import is_search_witness, witness
from harness.report.explain import explain
from harness.report.summary import member_labels, time_unit
from harness.watchdog import BudgetExceeded, Watchdog, parse_size
from models.check import check
from models.etcd.stream import check_stream
from models.history import History
from models.registry import MODELS, UnknownModel
from models.schema import SchemaError
from models.verdict import Verdict


class Checked(NamedTuple):
    """One file as ``check`` prints it: its verdict and how it was reached."""

    path: str
    verdict: Verdict
    elapsed_ms: float
    explanation: list[str]
    warnings: list[str]

    def to_json(self) -> dict[str, Any]:
        v = self.verdict
        out: dict[str, Any] = {
            "path": self.path,
            "verdict": v.verdict,
            "ops": v.ops,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "model": v.model,
        }
        anomalies = _anomalies_json(v)
        if anomalies:
            out["anomalies"] = anomalies
        if v.reason:
            out["reason"] = v.reason
        if v.stats.get("streaming_not_checked"):
            out["not_checked"] = v.stats["streaming_not_checked"]
            kept = (
                "windows",
                "max_window_ops",
                "max_retained_ops",
                "max_store_versions",
                "carried_unknown_writes",
            )
            out["stream"] = {k: v.stats[k] for k in kept if k in v.stats}
        if self.warnings:
            out["warnings"] = self.warnings
        return out


def _anomalies_json(v: Verdict) -> list[dict[str, Any]]:
    """The search's witness as one flat record (the shape scripts read); etcd's anomalies whole."""
    if is_search_witness(v):
        w = witness(v)
        return [
            {
                "kind": "non-linearizable",
                "ops": w.stuck,
                "prefix_length": len(w.prefix),
                "state": w.state_text,
                "partition": w.partition,
            }
        ]
    return v.anomaly_dicts()


def parse_initial(text: str | None) -> Any:
    """``--initial`` takes JSON (0, "x", null) and also Jepsen's ``nil``."""
    if text is None:
        return None
    if text == "nil":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def register(sub: Any) -> None:
    p = sub.add_parser(
        "check",
        help="check recorded histories for linearizability",
        description="Check histories. Exit 0: all linearizable; 1: a violation; 2: bad input; 3: unknown.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="history files; - reads standard input")
    p.add_argument("--format", default="auto", choices=["auto", *FORMATS])
    p.add_argument("--model", choices=MODELS, help="default: from the history (etcd for harness runs)")
    p.add_argument("--initial", help="initial register value for cas-register (JSON, or nil)")
    p.add_argument(
        "--timeout", type=float, default=60.0, help="seconds per file, reading included (then: unknown)"
    )
    p.add_argument(
        "--max-states", type=int, default=None, help="memory budget: states the search may remember"
    )
    p.add_argument(
        "--max-memory",
        metavar="SIZE",
        help="stop a file's reading or check (then: unknown) when the process's RSS passes SIZE (2G, 500M)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per file per line")
    p.add_argument(
        "--stream",
        action="store_true",
        help="etcd JSONL histories: check window by window in bounded memory; checks linearizability "
        "only (the verdict's stats name what it leaves out)",
    )
    p.add_argument("--window", type=int, default=20_000, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def check_file(hist: History, args: argparse.Namespace, deadline: float) -> Checked:
    started = time.monotonic()
    options = {"initial": parse_initial(args.initial)} if args.initial is not None else None
    try:
        verdict = check(
            hist,
            args.model,
            options=options,
            timeout=max(0.0, deadline - started),
            max_states=args.max_states,
        )
    except (UnknownModel, SchemaError) as exc:
        raise HarnessError(f"{hist.path or '-'}: {exc}") from None
    _name_the_budget(verdict, args.timeout, deadline, "checking")
    elapsed_ms = (time.monotonic() - started) * 1000
    lines = explain(verdict, hist.ops, unit=time_unit(hist), members=member_labels(hist))
    return Checked(hist.path or "-", verdict, elapsed_ms, lines, hist.warnings)


def _check_streamed(path: str, args: argparse.Namespace, deadline: float) -> Checked:
    """``--stream``: the history is read and checked as it comes (:mod:`models.etcd.stream`);
    only the header and the warnings are kept, so nothing is left to explain from."""
    started = time.monotonic()
    if args.format not in ("auto", "jsonl"):
        raise HarnessError(f"{path}: --stream reads the harness's JSONL histories, not {args.format}")
    stream = HistoryStream(path, model=args.model, deadline=deadline)
    try:
        model = args.model or stream.hist.header.model or "etcd"
        if model != "etcd":
            raise HarnessError(f"{path}: --stream checks etcd histories, not {model}")
        verdict = check_stream(stream.records(), window=args.window, timeout=max(0.0, deadline - started))
    finally:
        stream.close()
    _name_the_budget(verdict, args.timeout, deadline, "reading and checking")
    for warning in stream.hist.warnings:
        print(f"etcd-harness: warning: {warning}", file=sys.stderr)
    elapsed_ms = (time.monotonic() - started) * 1000
    lines = [a.message for a in verdict.anomalies]
    return Checked(path, verdict, elapsed_ms, lines, stream.hist.warnings)


def _name_the_budget(verdict: Verdict, timeout: float, deadline: float, phase: str) -> None:
    """A checker that stopped at the deadline it was handed says so in its own words (with
    the seconds it had left); the verdict names ``--timeout`` as the reader and the
    watchdog do, whichever of them noticed first."""
    if verdict.verdict == "unknown" and time.monotonic() >= deadline:
        verdict.reason = f"time budget of {timeout:g} s ran out while {phase} ({verdict.reason})"
        if "reason" in verdict.stats:
            verdict.stats["reason"] = verdict.reason


def _check_one(path: str, args: argparse.Namespace) -> tuple[Checked | None, str]:
    """One file read and checked within its budgets: (result, "") or (None, "bad" or
    "internal"). The watchdog is the backstop of the reader's and the search's own
    deadline (half a second later) and the only guard of ``--max-memory``."""
    started = time.monotonic()
    deadline = started + args.timeout
    phase = "reading"
    try:
        with Watchdog(timeout=args.timeout, grace=0.5, max_rss=args.max_memory):
            if args.stream:
                phase = "reading and checking"
                return _check_streamed(path, args, deadline), ""
            hist = load_history(path, args.format, model=args.model, deadline=deadline)
            for warning in hist.warnings:
                print(f"etcd-harness: warning: {warning}", file=sys.stderr)
            phase = "checking"
            return check_file(hist, args, deadline), ""
    except HistoryError as exc:
        print(f"etcd-harness: error: {exc}", file=sys.stderr)
        return None, "bad"
    except LoadTimeout as exc:
        reason = f"time budget of {args.timeout:g} s ran out while reading (line {exc.line})"
    except BudgetExceeded as exc:
        reason = f"{exc.reason} while {phase}"
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - a checker crash is our bug: one line, exit 4
        print(f"{path}: {internal_error_line(exc)}", file=sys.stderr)
        return None, "internal"
    late = Verdict("unknown", args.model or "?", reason=reason)
    return Checked(path, late, (time.monotonic() - started) * 1000, [], []), ""


def run(args: argparse.Namespace) -> int:
    if not (args.timeout > 0):
        raise HarnessError(f"--timeout must be a positive number of seconds, not {args.timeout:g}")
    args.max_memory = parse_size(args.max_memory) if args.max_memory is not None else None
    if args.max_states is not None and args.max_states < 1:
        raise HarnessError(f"--max-states must be at least 1, not {args.max_states}")
    if args.files.count("-") > 1:
        raise HarnessError("standard input (-) can be read only once")
    results: list[Checked] = []
    bad_input = internal = False
    for path in args.files:
        fv, failure = _check_one(path, args)
        if failure == "bad":
            bad_input = True
        if failure == "internal":
            internal = True
        if fv is None:
            continue
        results.append(fv)
        if args.json:
            print(json.dumps(fv.to_json()), flush=True)
    if not args.json:
        _print_table(results)
    if internal:
        return EXIT_INTERNAL
    if bad_input:
        return EXIT_USAGE
    if any(r.verdict.verdict == "illegal" for r in results):
        return EXIT_VIOLATION
    if any(r.verdict.verdict == "unknown" for r in results):
        return EXIT_UNKNOWN
    return EXIT_OK


def _print_table(results: list[Checked]) -> None:
    if not results:
        return
    if len(results) > 1:
        width = max(len(r.path) for r in results)
        print(f"{'file':<{width}}  {'verdict':<8} {'ops':>7} {'ms':>9}  model")
        for r in results:
            v = r.verdict
            print(f"{r.path:<{width}}  {v.verdict:<8} {v.ops:>7} {r.elapsed_ms:>9.1f}  {v.model}")
        totals = {o: sum(1 for r in results if r.verdict.verdict == o) for o in ("ok", "illegal", "unknown")}
        print(
            f"{len(results)} files: {totals['ok']} ok, {totals['illegal']} illegal, {totals['unknown']} unknown"
        )
    else:
        r = results[0]
        v = r.verdict
        print(f"{r.path}: {v.verdict} ({v.ops} ops, {r.elapsed_ms:.1f} ms, model {v.model})")
    for r in results:
        v = r.verdict
        if v.verdict == "illegal" and r.explanation:
            kinds = v.kinds()
            linear = not kinds or kinds <= {"non-linearizable", "revision-reused", "revision-mismatch"}
            print(f"\n{r.path}: {'not linearizable' if linear else 'violation: ' + ', '.join(sorted(kinds))}")
            for line in r.explanation:
                print(f"  {line}")
        elif v.verdict == "unknown":
            print(f"\n{r.path}: unknown: {v.reason or 'budget exhausted'}")
