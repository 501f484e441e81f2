"""Named scenarios: profile x faults x members x duration x load."""

from __future__ import annotations

import difflib

from harness.errors import HarnessError
from scenarios.base import FaultChoice, Scenario
from scenarios.catalog import SCENARIOS


class UnknownScenario(HarnessError, LookupError):
    """A scenario name that is not in the catalog (one line, exit 2)."""


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        close = difflib.get_close_matches(name, SCENARIOS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(SCENARIOS)})"
        raise UnknownScenario(f"unknown scenario {name!r}{hint}") from None


__all__ = ["SCENARIOS", "FaultChoice", "Scenario", "UnknownScenario", "get_scenario"]
