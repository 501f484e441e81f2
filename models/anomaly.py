"""What a checker reports when a history breaks a guarantee.

One small record for every checker so that reports, the CLI and tests can treat all
anomalies alike; ``kind`` is a stable short name tests and reports match on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Kinds reported by the etcd checkers (others may add their own).
KINDS = (
    "lost-write",
    "non-linearizable",
    "revision-reused",
    "revision-mismatch",
    "watch-gap",
    "watch-duplicate",
    "watch-reorder",
    "watch-split-revision",
    "watch-wrong-event",
    "watch-bad-start",
    "watch-progress",
    "watch-stalled",
    "stale-read",
    "lease-overlived",
    "divergence",
    "cluster-version",
    "permission-ignored",
    "permission-denied",
)


@dataclass
class Anomaly:
    kind: str
    message: str
    ops: list[int] = field(default_factory=list)
    watch: int | None = None
    members: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        where = []
        if self.ops:
            where.append("ops " + ",".join(map(str, self.ops[:10])))
        if self.watch is not None:
            where.append(f"watch {self.watch}")
        if self.members:
            where.append("members " + ",".join(self.members))
        suffix = f" ({'; '.join(where)})" if where else ""
        return f"[{self.kind}] {self.message}{suffix}"
