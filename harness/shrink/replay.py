"""Runs a distilled reproduction as the pytest file a user gets, and shrinks it.

The candidate is judged by running exactly the file that is handed out: pytest runs it
in a process of its own with the plugin's ``--etcd-history-dir``, and the history the
plugin kept is checked here for the target anomaly. So the rate measured is the rate
of that file, not of some replay beside it.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.shrink.candidates import chunk_removals
from harness.shrink.live import Target
from harness.shrink.script import Script, pytest_source
from harness.shrink.search import Trial

#: Seconds a reproduction may take (a cluster start, a few calls, the check).
RUN_TIMEOUT = 180.0


@dataclass
class ScriptReproducer:
    """Runs a distilled script's test file in ``root/<label>``, on the build and backend
    of the run it came from."""

    target: Target
    root: Path
    etcd_version: str | None = None
    etcd: str | None = None
    source: str = ""
    backend: str = "process"

    def __call__(self, script: Script, label: str) -> Trial:
        return self.run_file(self.source_of(script, "not measured"), self.root / label)

    def run_file(self, text: str, out: Path) -> Trial:
        """Run a reproduction's test file in ``out`` and check the history it kept."""
        out.mkdir(parents=True, exist_ok=True)
        test = out / "test_reproduction.py"
        test.write_text(text)
        (out / "pytest.ini").write_text("[pytest]\n")
        rc = _pytest(self._command(out, test), out)
        kept = sorted((out / "histories").glob("*.jsonl"))
        if not kept:
            return Trial(False, out, None, f"error: pytest exit {rc}, no history (see {out / 'pytest.log'})")
        shutil.copy2(kept[0], out / "history.jsonl")
        return self._judge(out)

    def source_of(self, script: Script, rate: str) -> str:
        return pytest_source(
            script,
            title=self.target.text(),
            source=self.source or "a failed run",
            what=script.label,
            rate=rate,
        )

    def _command(self, out: Path, test: Path) -> list[str]:
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(out / "pytest.ini")]
        cmd += ["--rootdir", str(out), "--etcd-history-dir", str(out / "histories"), str(test)]
        cmd += ["--etcd-backend", self.backend]
        if self.etcd:
            cmd += ["--etcd-binary", self.etcd]
        elif self.etcd_version:
            cmd += ["--etcd-version", self.etcd_version]
        return cmd

    def _judge(self, out: Path) -> Trial:
        from harness.history.jsonl import read_history
        from models.check import check

        hist = read_history(str(out / "history.jsonl"))
        verdict = check(hist, timeout=60)
        anomalies = verdict.anomaly_dicts()
        record = {"verdict": verdict.verdict, "ops": len(hist.ops), "anomalies": anomalies}
        (out / "check.json").write_text(json.dumps(record, indent=2) + "\n")
        kinds = sorted({a["kind"] for a in anomalies})
        note = verdict.verdict + (f" ({', '.join(kinds)})" if kinds else "")
        return Trial(self.target.found_in(anomalies), out, len(hist.ops), note)


def _pytest(cmd: list[str], out: Path) -> int:
    """Run pytest; on Ctrl-C, SIGTERM or a timeout it gets SIGINT first, so that its
    fixtures stop their cluster, and is killed only if it does not end."""
    with (out / "pytest.log").open("w") as log:
        proc = subprocess.Popen(cmd, cwd=out, stdout=log, stderr=subprocess.STDOUT)
        try:
            return proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            _stop(proc)
            return -1
        except BaseException:
            _stop(proc)
            raise


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Distilled:
    best: Script | None
    best_trial: Trial | None
    candidates: int = 0
    runs: int = 0
    elapsed: float = 0.0
    rate: tuple[int, int] | None = None
    tried: list[str] = field(default_factory=list)


class ScriptSearch:
    """The first candidate that reproduces, then ddmin over its writes. A candidate is
    tried up to ``tries`` times and kept at its first reproduction, as plans are."""

    def __init__(
        self,
        reproduce: Callable[[Script, str], Trial],
        *,
        tries: int,
        budget: float,
        on_run: Callable[[str, Trial, Distilled], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.reproduce, self.tries, self.budget = reproduce, tries, budget
        self.on_run = on_run
        self.clock = clock
        self.started = clock()
        self.longest = 0.0
        self.state = Distilled(None, None)
        self.seen: set[tuple[str, ...]] = set()

    def run(self, candidates: list[Script]) -> Distilled:
        for script in candidates:
            if self._try(script, "distill"):
                break
        if self.state.best is not None:
            self._ddmin()
            self._measure()
        self.state.elapsed = self.clock() - self.started
        return self.state

    def _room(self, runs: int = 1) -> bool:
        return self.clock() - self.started + runs * self.longest <= self.budget

    def _run(self, script: Script, label: str) -> Trial:
        self.state.runs += 1
        start = self.clock()
        trial = self.reproduce(script, f"distill-{self.state.runs:04d}-{label}")
        trial.seconds = self.clock() - start
        self.longest = max(self.longest, trial.seconds)
        return trial

    def _report(self, label: str, trial: Trial) -> None:
        if self.on_run is not None:
            self.on_run(label, trial, self.state)

    def _try(self, script: Script, label: str) -> bool:
        key = script.key()
        if key in self.seen:
            return False
        self.seen.add(key)
        self.state.candidates += 1
        self.state.tried.append(f"{script.label}: {script.calls()} calls")
        for _ in range(self.tries):
            if not self._room(1 + self.tries):
                return False
            trial = self._run(script, label)
            if trial.reproduced:
                self.state.best, self.state.best_trial = script, trial
            self._report(label, trial)
            if trial.reproduced:
                return True
        return False

    def _ddmin(self) -> None:
        n = 2
        while self.state.best is not None and self._room(1 + self.tries):
            best = self.state.best
            writes = best.writes
            if len(writes) <= 1:
                return
            if any(self._try(best.keeping(rest), "ddmin") for rest in chunk_removals(writes, n)):
                n = max(n - 1, 2)
            elif n >= len(writes):
                return
            else:
                n = min(2 * n, len(writes))

    def _measure(self) -> None:
        assert self.state.best is not None
        hits = runs = 0
        while runs < self.tries and self._room():
            trial = self._run(self.state.best, "rate")
            self._report("rate", trial)
            runs += 1
            hits += trial.reproduced
        self.state.rate = (hits, runs)
