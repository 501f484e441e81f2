"""`etcd-harness check FILE...`: verdicts for recorded histories, ours or other tools'."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from harness.cli.errors import internal_error_line
from harness.errors import EXIT_INTERNAL, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE, EXIT_VIOLATION, HarnessError
from harness.history.errors import HistoryError, LoadTimeout
from harness.history.importers import FORMATS, load_history
from harness.report.explain import explain
from harness.report.summary import member_labels, time_unit
from harness.report.verdict import from_check_result, from_etcd_verdict
from models.history import History
from models.registry import MODELS, UnknownModel, make_model
from models.schema import SchemaError


@dataclass
class FileVerdict:
    path: str
    verdict: str
    ops: int
    elapsed_ms: float
    model: str
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "verdict": self.verdict,
            "ops": self.ops,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "model": self.model,
        }
        if self.anomalies:
            out["anomalies"] = self.anomalies
        if self.reason:
            out["reason"] = self.reason
        if self.warnings:
            out["warnings"] = self.warnings
        return out


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
    p.add_argument("--json", action="store_true", help="one JSON object per file per line")
    p.set_defaults(func=run)


def check_history(
    hist: History,
    model_name: str | None,
    initial: str | None,
    timeout: float,
    max_states: int | None,
    deadline: float | None = None,
) -> FileVerdict:
    name = model_name or hist.model or "etcd"
    path = hist.path or "-"
    started = time.monotonic()
    if deadline is not None:
        timeout = max(0.0, deadline - started)
    if not any(op.status != "fail" for op in hist.ops):
        return FileVerdict(
            path=path,
            verdict="unknown",
            ops=len(hist.ops),
            elapsed_ms=0.0,
            model=name,
            warnings=hist.warnings,
            reason="the history holds no operation that may have taken effect: nothing to check",
        )
    if name == "etcd":
        from models.etcd import check_history as check_etcd

        etcd_res = check_etcd(hist, timeout=timeout)
        return FileVerdict(
            path=path,
            verdict=etcd_res.verdict,
            ops=len(hist.ops),
            elapsed_ms=(time.monotonic() - started) * 1000,
            model=name,
            anomalies=[dataclasses.asdict(a) for a in etcd_res.anomalies],
            explanation=explain(
                from_etcd_verdict(etcd_res, name), hist.ops, unit=time_unit(hist), members=member_labels(hist)
            ),
            warnings=hist.warnings,
            reason=str(etcd_res.stats.get("reason", "")),
        )
    from models.linearizability import DEFAULT_MAX_STATES, check

    options = dict(hist.header.model_options) if hist.header.model in (None, name) else {}
    if initial is not None:
        options["initial"] = parse_initial(initial)
    try:
        model = make_model(name, options)
    except (UnknownModel, SchemaError) as exc:
        raise HarnessError(f"{path}: {exc}") from None
    ops = hist.operations()
    res = check(model, ops, timeout=timeout, max_states=max_states or DEFAULT_MAX_STATES)
    explanation: list[str] = []
    w = res.witness
    anomalies: list[dict[str, Any]] = []
    if w is not None:
        explanation = explain(
            from_check_result(res, name, model, ops),
            ops,
            describe=model.describe_operation,
            unit=time_unit(hist),
        )
        anomalies.append(
            {
                "kind": "non-linearizable",
                "ops": w.stuck,
                "prefix_length": len(w.prefix),
                "state": w.state_text,
                "partition": w.partition,
            }
        )
    return FileVerdict(
        path=path,
        verdict=res.verdict,
        ops=res.ops,
        elapsed_ms=(time.monotonic() - started) * 1000,
        model=name,
        anomalies=anomalies,
        explanation=explanation,
        warnings=hist.warnings,
        reason=res.reason,
    )


def run(args: argparse.Namespace) -> int:
    if not (args.timeout > 0):
        raise HarnessError(f"--timeout must be a positive number of seconds, not {args.timeout:g}")
    if args.max_states is not None and args.max_states < 1:
        raise HarnessError(f"--max-states must be at least 1, not {args.max_states}")
    if args.files.count("-") > 1:
        raise HarnessError("standard input (-) can be read only once")
    results: list[FileVerdict] = []
    bad_input = internal = False
    for path in args.files:
        started = time.monotonic()
        deadline = started + args.timeout
        try:
            hist = load_history(path, args.format, model=args.model, deadline=deadline)
        except HistoryError as exc:
            print(f"etcd-harness: error: {exc}", file=sys.stderr)
            bad_input = True
            continue
        except LoadTimeout as exc:
            fv = FileVerdict(
                path=path,
                verdict="unknown",
                ops=0,
                elapsed_ms=(time.monotonic() - started) * 1000,
                model=args.model or "?",
                reason=f"time budget of {args.timeout:g} s ran out while reading (line {exc.line})",
            )
        else:
            for warning in hist.warnings:
                print(f"etcd-harness: warning: {warning}", file=sys.stderr)
            try:
                fv = check_history(hist, args.model, args.initial, args.timeout, args.max_states, deadline)
            except HarnessError:
                raise
            except Exception as exc:  # noqa: BLE001 - a checker crash is our bug: one line, exit 4
                print(f"{path}: {internal_error_line(exc)}", file=sys.stderr)
                internal = True
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
    if any(r.verdict == "illegal" for r in results):
        return EXIT_VIOLATION
    if any(r.verdict == "unknown" for r in results):
        return EXIT_UNKNOWN
    return EXIT_OK


def _print_table(results: list[FileVerdict]) -> None:
    if not results:
        return
    if len(results) > 1:
        width = max(len(r.path) for r in results)
        print(f"{'file':<{width}}  {'verdict':<8} {'ops':>7} {'ms':>9}  model")
        for r in results:
            print(f"{r.path:<{width}}  {r.verdict:<8} {r.ops:>7} {r.elapsed_ms:>9.1f}  {r.model}")
        totals = {v: sum(1 for r in results if r.verdict == v) for v in ("ok", "illegal", "unknown")}
        print(
            f"{len(results)} files: {totals['ok']} ok, {totals['illegal']} illegal, {totals['unknown']} unknown"
        )
    else:
        r = results[0]
        print(f"{r.path}: {r.verdict} ({r.ops} ops, {r.elapsed_ms:.1f} ms, model {r.model})")
    for r in results:
        if r.verdict == "illegal" and r.explanation:
            kinds = {a.get("kind") for a in r.anomalies}
            linear = not kinds or kinds <= {"non-linearizable", "revision-reused", "revision-mismatch"}
            print(
                f"\n{r.path}: {'not linearizable' if linear else 'violation: ' + ', '.join(sorted(map(str, kinds)))}"
            )
            for line in r.explanation:
                print(f"  {line}")
        elif r.verdict == "unknown":
            print(f"\n{r.path}: unknown: {r.reason or 'budget exhausted'}")
