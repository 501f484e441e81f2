"""The distilling step of ``shrink``: candidates from the failed run's history, their
search, and the files a reproduction that distilled leaves (``method: distilled`` in
shrink.json; ``reproduce`` runs its test file)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.shrink.distill import distill
from harness.shrink.live import Target
from harness.shrink.output import rate_record, rate_text, run_history
from harness.shrink.replay import Distilled, ScriptReproducer, ScriptSearch
from harness.shrink.search import Trial
from models.history import History


def version_of(hist: History, etcd_version: str | None, etcd: str | None) -> str | None:
    """The build to replay on: the one asked for, else the run's (one version only)."""
    if etcd_version or etcd:
        return etcd_version
    versions = sorted(set(hist.header.etcd_versions))
    return versions[0] if len(versions) == 1 else None


def try_distill(
    source: Path,
    out: Path,
    target: Target,
    *,
    tries: int,
    budget: float,
    etcd_version: str | None,
    etcd: str | None,
    on_run: Callable[[str, Trial, Distilled], None] | None = None,
) -> tuple[Distilled | None, str]:
    """(the search's outcome, or None and why nothing was distilled)."""
    from models.check import check

    hist = run_history(source)
    if hist is None:
        return None, "no readable history"
    verdict = check(hist, timeout=300)
    candidates = distill(hist, verdict, target)
    if not candidates:
        return None, "the anomaly names no watch to distill around"
    version = version_of(hist, etcd_version, etcd)
    backend = "docker" if hist.header.cluster.get("backend") == "docker" else "process"
    reproducer = ScriptReproducer(target, out / "candidates", version, etcd, str(source), backend)
    result = ScriptSearch(reproducer, tries=tries, budget=budget, on_run=on_run).run(candidates)
    if result.best is None:
        return result, f"no distilled candidate reproduced ({'; '.join(result.tried)})"
    write_distilled(out, result, reproducer, source, hist)
    return result, ""


def write_distilled(
    out: Path, result: Distilled, reproducer: ScriptReproducer, source: Path, original: History
) -> dict[str, Any]:
    assert result.best is not None and result.best_trial is not None and result.best_trial.run_dir
    best = result.best_trial.run_dir
    for name in ("history.jsonl", "check.json"):
        shutil.copy2(best / name, out / name)
    rate = rate_text(result.rate)
    (out / "test_reproduction.py").write_text(reproducer.source_of(result.best, rate))
    checked = json.loads((best / "check.json").read_text())
    record = {
        "method": "distilled",
        "source": str(source),
        "out": str(out),
        "anomaly": {"kind": reproducer.target.kind, "known_bug": reproducer.target.known_bug},
        "etcd_version": reproducer.etcd_version,
        "backend": reproducer.backend,
        "original": {"operations": len(original.ops), "watch_records": len(original.watches)},
        "final": {
            "operations": checked["ops"],
            "calls": result.best.calls(),
            "writes": len(result.best.writes),
        },
        "best_run": str(best),
        "candidates": result.candidates,
        "runs": result.runs,
        "seconds": round(result.elapsed, 1),
        "reproduction_rate": rate_record(result.rate),
    }
    (out / "shrink.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "reproduction.txt").write_text(_describe(record, result, checked))
    return record


def _describe(record: dict[str, Any], result: Distilled, checked: dict[str, Any]) -> str:
    assert result.best is not None
    target = record["anomaly"]
    lines = [
        f"Reproduction of {target['kind']}" + (f" ({target['known_bug']})" if target["known_bug"] else ""),
        f"distilled from {record['source']}: {record['original']['operations']} operations -> "
        f"{record['final']['calls']} calls ({record['final']['operations']} operations recorded)",
        f"{record['reproduction_rate']['text']} on etcd {record['etcd_version'] or '(default)'}",
        "",
        f"One client, no faults, in this order ({result.best.label}):",
        *(f"  {line}" for line in result.best.lines()),
        "",
        "What the check found:",
        *(f"  {a['kind']}: {a['message']}" for a in checked["anomalies"][:5]),
    ]
    return "\n".join(lines) + "\n"


def is_distilled(path: Path) -> bool:
    try:
        return json.loads((path / "shrink.json").read_text()).get("method") == "distilled"
    except (OSError, ValueError, AttributeError):
        return False


def reproduce_distilled(
    path: Path, out: str | None, etcd_version: str | None, etcd: str | None, backend: str = "process"
) -> int:
    """``reproduce`` of a distilled directory: its test file, run once and checked."""
    import sys

    from harness.errors import EXIT_OK, EXIT_VIOLATION, HarnessError

    record = json.loads((path / "shrink.json").read_text())
    test = path / "test_reproduction.py"
    try:
        text = test.read_text()
    except OSError as exc:
        raise HarnessError(f"{test}: cannot read: {exc.strerror or exc}") from None
    anomaly = record.get("anomaly") or {}
    target = Target(str(anomaly.get("kind", "")), anomaly.get("known_bug"))
    version = etcd_version or (None if etcd else record.get("etcd_version"))
    dest = Path(out) if out else path.parent / f"{path.name}-reproduced"
    trial = ScriptReproducer(target, dest.parent, version, etcd, backend=backend).run_file(text, dest)
    print(f"{'REPRODUCED' if trial.reproduced else 'NOT REPRODUCED'}: {target.text()}: {trial.note}")
    print(f"artifacts: {dest}", file=sys.stderr)
    return EXIT_VIOLATION if trial.reproduced else EXIT_OK
