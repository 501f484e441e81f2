"""What every check concludes about a history: one result type, whichever check ran.

Three values, as porcupine and Jepsen give them: ``ok`` (some order explains all that
was observed), ``illegal`` (none does: the anomalies say why), ``unknown`` (the budget
ran out, or there was nothing to check: ``reason`` says which). A fourth, ``not
checked``, is for reports rendered without a check. The CLI, the runner and the report
all take this one type, so none of them needs to know which checker produced it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from models.anomaly import Anomaly

Outcome = Literal["ok", "illegal", "unknown", "not checked"]
NOT_CHECKED: Outcome = "not checked"


@dataclass
class Witness:
    """The evidence behind a verdict, as far as the check found it.

    For a violation found by the generic search: ``prefix``, the longest sequence of
    operations it could linearize (in order), ``state`` the model state after it, and
    ``stuck`` the operations that had to come next but that the model rejects there.
    For a pass of the generic search: ``order``, one linearization per partition. For the
    etcd checks: ``writers``, the operation that created each revision in the order the
    replay found (what a report shows next to an anomaly that names revisions).
    """

    partition: int | None = None
    prefix: list[int] = field(default_factory=list)
    state: Any = None
    state_text: str = ""
    stuck: list[int] = field(default_factory=list)
    explanations: list[str] = field(default_factory=list)
    order: list[list[int]] | None = None
    writers: dict[int, int] = field(default_factory=dict)


@dataclass
class Verdict:
    verdict: Outcome
    model: str
    anomalies: list[Anomaly] = field(default_factory=list)
    #: Why the verdict is ``unknown`` (or why nothing was checked); empty otherwise.
    reason: str = ""
    #: Figures of the check: operations, revisions, search steps, time per phase...
    stats: dict[str, Any] = field(default_factory=dict)
    witness: Witness | None = None
    #: Seconds the check took.
    elapsed: float = 0.0

    @classmethod
    def unchecked(cls, reason: str, model: str) -> Verdict:
        return cls(NOT_CHECKED, model, reason=reason)

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    @property
    def ops(self) -> int:
        return int(self.stats.get("ops", 0))

    @property
    def linearization(self) -> list[list[int]] | None:
        """One order per partition, when the generic search passed the history."""
        return self.witness.order if self.verdict == "ok" and self.witness is not None else None

    def kinds(self) -> set[str]:
        return {a.kind for a in self.anomalies}

    @property
    def unexplained(self) -> list[Anomaly]:
        """The anomalies no known bug of the history's etcd versions explains."""
        return [a for a in self.anomalies if "known_bug" not in a.details]

    def known_bugs(self) -> list[str]:
        return sorted({a.details["known_bug"]["id"] for a in self.anomalies if "known_bug" in a.details})

    def summary(self) -> str:
        head = (
            f"{self.model}: {self.verdict} ({self.elapsed:.2f}s, {self.stats.get('revisions', 0)} revisions)"
        )
        return "\n".join([head, *(f"  {a}" for a in self.anomalies)])

    def anomaly_dicts(self) -> list[dict[str, Any]]:
        return [dataclasses.asdict(a) for a in self.anomalies]
