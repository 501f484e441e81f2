"""The shrink's files: the best reproduction's run directory as the main content (so
``reproduce`` and the report work on it as on any run), ``shrink.json`` with the figures,
``reproduction.txt`` for a person, and ``test_reproduction.py`` for a test suite."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from harness.shrink.calls import calls_test
from harness.shrink.candidates import size
from harness.shrink.live import Target
from harness.shrink.search import Outcome
from harness.traffic.plan import Plan, key_name
from models.history import History


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def rate_text(rate: tuple[int, int] | None) -> str:
    if rate is None or rate[1] == 0:
        return "not measured"
    return f"reproduced {rate[0]} of {rate[1]}"


def rate_record(rate: tuple[int, int] | None) -> dict[str, Any]:
    """shrink.json's ``reproduction_rate``."""
    return {
        "reproduced": rate[0] if rate else None,
        "runs": rate[1] if rate else None,
        "text": rate_text(rate),
    }


def figures(plan: Plan, ops: int | None) -> dict[str, Any]:
    return {
        "operations": ops,
        **size(plan).as_dict(),
        "programs": {str(c.client): len(c.program) for c in plan.clients},
    }


def write_output(out: Path, outcome: Outcome, source: Path, target: Target) -> dict[str, Any]:
    """Write everything; returns what shrink.json holds."""
    out.mkdir(parents=True, exist_ok=True)
    best_dir = outcome.best_trial.run_dir if outcome.best_trial is not None else None
    main = best_dir if best_dir is not None and best_dir.is_dir() else source
    for entry in main.iterdir():
        if entry.is_file():
            shutil.copy2(entry, out / entry.name)
    link = out / "best"
    if best_dir is not None and not link.exists():
        os.symlink(os.path.relpath(best_dir, out), link)
    summary = read_json(out / "summary.json")
    original = read_json(source / "summary.json")
    plan = Plan.from_json((out / "plan.json").read_bytes())
    record = {
        "source": str(source),
        "out": str(out),
        "anomaly": {"kind": target.kind, "known_bug": target.known_bug},
        "original": figures(outcome.original, original.get("ops")),
        "final": figures(plan, summary.get("ops")),
        "best_run": str(main),
        "candidates": outcome.candidates,
        "runs": outcome.runs,
        "kept": outcome.kept,
        "stopped": outcome.stopped,
        "seconds": round(outcome.elapsed, 1),
        "reproduction_rate": rate_record(outcome.rate),
    }
    (out / "shrink.json").write_text(json.dumps(record, indent=2) + "\n")
    hist = run_history(out)
    text = describe(plan, summary, target, record) + "".join(f"{line}\n" for line in fault_log(hist))
    (out / "reproduction.txt").write_text(text)
    (out / "test_reproduction.py").write_text(pytest_file(plan, target, rate_text(outcome.rate)))
    calls = calls_test(plan, list(hist.ops) if hist else [], f"Reproduction of {target.text()}")
    if calls is not None:
        (out / "test_recorded_calls.py").write_text(calls)
    return record


def run_history(run_dir: Path) -> History | None:
    """The history a run directory holds (``history.jsonl``, or ``.xz`` as regressions
    keep it); None when it has none that reads."""
    from harness.history.jsonl import read_history

    for name in ("history.jsonl", "history.jsonl.xz"):
        if (run_dir / name).exists():
            try:
                return read_history(str(run_dir / name))
            except Exception:  # noqa: BLE001 - no readable history: nothing more to tell from it
                return None
    return None


def fault_log(hist: History | None) -> list[str]:
    """The faults as the best run injected them: when, on which members, for how long."""
    if hist is None or not hist.faults:
        return []
    ends = {f.id: f for f in hist.faults if f.phase == "end"}
    lines = ["Faults as the best run injected them:"]
    for f in (f for f in hist.faults if f.phase == "start"):
        end = ends.get(f.id)
        took = f" until {end.time / 1e9:.3f} s" if end is not None else " (never healed)"
        lines.append(f"  {f.time / 1e9:.3f} s: {f.kind} {', '.join(f.targets) or '-'}{took}")
    return [*lines, ""]


def _template(plan: Plan, kind: str, key: int, arg: int) -> str:
    return f"{kind} {key_name(plan.profile, key)} (arg {arg})"


def _watcher(plan: Plan, w: Any) -> str:
    what = f"prefix {key_name(plan.profile, 0)[:-4]}" if w.prefix else f"key {key_name(plan.profile, w.key)}"
    flags = [n for n in ("prev_kv", "progress_notify", "fragment") if getattr(w, n)] + list(w.filters)
    if w.stall_every:
        flags.append(f"stalls {w.stall_s:g} s every {w.stall_every} messages")
    if w.recreate_every:
        flags.append(f"re-creates every {w.recreate_every} messages")
    return f"  watcher {w.watcher} on member {w.member}: {what}" + (f" ({', '.join(flags)})" if flags else "")


def describe(plan: Plan, summary: dict[str, Any], target: Target, record: dict[str, Any]) -> str:
    """The final plan and its anomaly in plain text."""
    rate = "unthrottled" if plan.qps is None else f"{plan.qps:g} requests/s over all clients"
    versions = ", ".join(plan.etcd_versions or summary.get("etcd_versions") or []) or "the default build"
    lines = [
        f"Shrunk reproduction of {target.text()}: scenario {plan.scenario}, seed {plan.seed}",
        f"etcd {versions}; {plan.members} members; {plan.duration:g} s of traffic, {rate}; "
        f"{plan.keyspace} keys; large values {plan.value_kb} KiB",
        f"{record['original']['operations']} operations before, {record['final']['operations']} after; "
        f"{record['reproduction_rate']['text']}",
        "",
        "Clients (each cycles through its program; keys and values follow from the seed):",
    ]
    for c in plan.clients:
        where = "rotates over all members" if c.member is None else f"talks to member {c.member}"
        lines.append(f"  client {c.client} ({where}):")
        lines += [f"    {i + 1}. {_template(plan, t.kind, t.key, t.arg)}" for i, t in enumerate(c.program)]
    lines += ["", "Watchers:" if plan.watchers else "Watchers: none"]
    lines += [_watcher(plan, w) for w in plan.watchers]
    lines += ["", "Faults:" if plan.faults else "Faults: none"]
    for f in plan.faults:
        params = ", ".join(f"{k}={v}" for k, v in f.params.items())
        lines.append(
            f"  at {f.at:g} s: {f.fault} on {f.target} (pick {f.pick}) for {f.duration:g} s"
            + (f" [{params}]" if params else "")
        )
    lines += ["", "Anomalies of the best reproduction:"]
    for a in (summary.get("anomalies") or [])[:10]:
        bug = ((a.get("details") or {}).get("known_bug") or {}).get("id")
        lines.append(f"  {a.get('kind')}{f' [{bug}]' if bug else ''}: {a.get('message')}")
    lines += ["", f"Rerun: etcd-harness reproduce {record['out']}", ""]
    return "\n".join(lines)


PYTEST_TEMPLATE = '''"""Reproduction of {title}, shrunk by `etcd-harness shrink`.

Replays the plan below on a fresh cluster through the harness's runner and fails while
etcd still shows the anomaly. The build: the plugin's --etcd-version, else the plan's.
Reproduction rate when shrunk: {rate}.
"""

from pathlib import Path

import pytest

from harness.runner import RunOptions, run
from harness.traffic.plan import Plan

ANOMALY = {kind!r}
KNOWN_BUG = {bug!r}
PLAN = r"""
{plan}"""


def test_reproduction(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    plan = Plan.from_json(PLAN.encode())
    version = request.config.getoption("--etcd-version", default=None)
    result = run(
        RunOptions(
            scenario=plan.scenario,
            seed=plan.seed,
            plan=plan,
            out=str(tmp_path / "run"),
            progress=False,
            etcd_version=version,
        )
    )
    if result.verdict == "unknown":
        pytest.skip(f"the run could not tell: {{result.check.reason}}")
    found = [f"{{a['kind']}}: {{a['message']}}" for a in result.anomalies]
    assert result.verdict != "illegal", (
        f"etcd still breaks ({{ANOMALY}}, {{KNOWN_BUG or 'no known bug named'}}); artifacts in "
        f"{{tmp_path / 'run'}}:\\n" + "\\n".join(found[:5])
    )
'''


def pytest_file(plan: Plan, target: Target, rate: str = "not measured") -> str:
    text = plan.to_json().decode()
    if '"""' in text:
        raise ValueError("a plan holding triple quotes cannot be embedded")
    return PYTEST_TEMPLATE.format(
        title=target.text(),
        rate=rate,
        kind=target.kind,
        bug=target.known_bug,
        plan=text,
    )
