"""Running a plan's fault schedule against one cluster, in its own thread.

Each step starts at its offset into the traffic, holds for its duration and heals;
a step that would outlast the traffic is not started. A fault the cluster cannot take
(no namespaces for a partition) is noted and skipped; one that fails is noted too.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from harness.faults import FaultError, Injector, make_fault


class Step(Protocol):
    """One step of a schedule (``harness.traffic.plan.FaultStep``)."""

    at: float
    fault: str
    target: str
    duration: float
    pick: int
    params: dict[str, Any]


def run_schedule(
    steps: Sequence[Step], injector: Injector, start: float, deadline: float, stop: threading.Event
) -> None:
    """Inject ``steps`` from ``start`` (time.monotonic()) until ``deadline`` or ``stop``."""
    for step in steps:
        wait = start + step.at - time.monotonic()
        if wait > 0 and stop.wait(wait):
            return
        if stop.is_set() or time.monotonic() + step.duration > deadline:
            return
        injector.rng = random.Random(step.pick)
        try:
            fault = make_fault(step.fault, target=step.target, **step.params)
            ok, why = fault.available(injector.cluster)
            if not ok:
                injector.note(f"fault {step.fault} skipped: {why}")
                continue
            w = injector.start(fault)
            if not w.healed:
                stop.wait(step.duration)
                injector.heal(w)
        except FaultError as exc:
            injector.note(f"fault {step.fault} failed: {exc}")
