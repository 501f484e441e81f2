"""The one entry point that checks a history: ``check(history, model=...)``.

The CLI's ``check`` and ``report``, the runner and the pytest plugin all call this, so
"check this history with that model" is written once. A model that has a checker for
whole histories (etcd: the revision-guided search plus the watch, stale-read and
convergence checks) is checked with it; any other with the generic linearizability
search.
"""

from __future__ import annotations

from typing import Any

from models.history import History
from models.linearizability import DEFAULT_MAX_STATES
from models.linearizability import check as linearizable
from models.registry import make_model
from models.verdict import Verdict

#: The model a history is checked with when neither it nor the caller names one.
DEFAULT_MODEL = "etcd"


def model_name(history: History, model: str | None = None) -> str:
    return model or history.header.model or DEFAULT_MODEL


def check(
    history: History,
    model: str | None = None,
    *,
    options: dict[str, Any] | None = None,
    timeout: float | None = None,
    max_states: int | None = None,
) -> Verdict:
    """Check ``history`` against ``model`` (default: the one its header names).

    ``options`` override the header's ``model_options`` one by one (``--initial``); they
    apply only when the history is checked with the model it was written for, otherwise
    the model's defaults are used. Raises SchemaError for options that do not fit.
    """
    name = model_name(history, model)
    merged = dict(history.header.model_options) if history.header.model in (None, name) else {}
    merged.update(options or {})
    checker = make_model(name, merged)
    if not any(op.status != "fail" for op in history.ops):
        return Verdict(
            "unknown",
            name,
            reason="the history holds no operation that may have taken effect: nothing to check",
            stats={"ops": len(history.ops)},
        )
    whole = getattr(checker, "check_history", None)
    if whole is not None:
        verdict: Verdict = whole(history, timeout=timeout)
        return verdict
    return linearizable(
        checker, history.operations(), timeout=timeout, max_states=max_states or DEFAULT_MAX_STATES
    )
