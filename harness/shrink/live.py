"""What counts as "the same failure", and the reproducer that runs a candidate on a
real cluster, one run directory per run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.shrink.search import Trial
from harness.signals import Interrupted
from harness.traffic.plan import Plan


@dataclass(frozen=True)
class Target:
    """The anomaly a smaller plan must still show: its kind, and the known bug the
    labeller named for it, if any (another bug of the same kind is another failure)."""

    kind: str
    known_bug: str | None = None

    @staticmethod
    def of(anomaly: dict[str, Any]) -> Target:
        bug = (anomaly.get("details") or {}).get("known_bug") or {}
        return Target(str(anomaly.get("kind", "")), bug.get("id"))

    @staticmethod
    def from_summary(summary: dict[str, Any]) -> Target | None:
        """The first anomaly of a failed run, or None for a run with nothing to shrink."""
        anomalies = summary.get("anomalies") or []
        if summary.get("verdict") != "illegal" or not anomalies:
            return None
        return Target.of(anomalies[0])

    def found_in(self, anomalies: list[dict[str, Any]]) -> bool:
        return any(
            (t := Target.of(a)).kind == self.kind
            and (self.known_bug is None or t.known_bug == self.known_bug)
            for a in anomalies
        )

    def text(self) -> str:
        return self.kind + (f" ({self.known_bug})" if self.known_bug else "")


@dataclass
class LiveReproducer:
    """Runs a plan through the harness's runner in ``root/<label>``."""

    target: Target
    root: Path
    etcd_version: str | None = None
    etcd: str | None = None
    check_timeout: float = 300.0

    def __call__(self, plan: Plan, label: str) -> Trial:
        from harness.runner import RunOptions, run

        out = self.root / label
        opts = RunOptions(
            scenario=plan.scenario,
            seed=plan.seed,
            plan=plan,
            out=str(out),
            progress=False,
            etcd_version=self.etcd_version,
            etcd=self.etcd,
            check_timeout=self.check_timeout,
        )
        try:
            result = run(opts)
        except HarnessError as exc:
            # A cluster that would not start is a failed try, not the end of the shrink.
            return Trial(False, out, None, f"error: {' '.join(str(exc).split())[:200]}")
        if result.interrupted:
            raise Interrupted(int(result.interrupted))
        found = self.target.found_in(result.anomalies)
        kinds = sorted({a["kind"] for a in result.anomalies})
        note = result.verdict + (f" ({', '.join(kinds)})" if kinds else "")
        return Trial(found, out, result.summary.get("ops"), note)
