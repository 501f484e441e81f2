"""One shape for "what the checker said", whichever checker said it.

The generic linearizability search yields a witness (longest linearizable prefix, stuck
operations, model state); the etcd checkers yield anomalies. Reports and the terminal
explanation take a :class:`ReportVerdict` so they need not know which one ran, and so a
report can still be written when nothing was checked.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from models.history import History

NOT_CHECKED = "not checked"


@dataclass
class ReportVerdict:
    """``verdict`` is ``ok``, ``illegal``, ``unknown`` or ``not checked``.

    ``prefix`` (op ids in linearization order), ``stuck`` and ``state_text`` come from a
    witness of the generic search; they stay empty for checkers that report anomalies
    only. Anomalies are dicts with ``kind``, ``message``, ``ops``, ``watch``, ``members``
    and ``details``, the fields of ``models.anomaly.Anomaly``.
    """

    verdict: str
    model: str | None = None
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    prefix: list[int] = field(default_factory=list)
    stuck: list[int] = field(default_factory=list)
    state_text: str = ""
    partition: int | None = None
    expected: dict[int, str] = field(default_factory=dict)
    writers: dict[int, int] = field(default_factory=dict)
    reason: str = ""
    elapsed_ms: float | None = None
    #: The checker crashed (a bug of the harness): the exception, for a one-line report.
    internal_error: str = ""

    @property
    def violating_ops(self) -> list[int]:
        """Ops to point at, first the ones that cannot be placed, in a stable order."""
        seen: dict[int, None] = dict.fromkeys(self.stuck)
        for a in self.anomalies:
            for i in a.get("ops") or []:
                seen.setdefault(int(i), None)
        return list(seen)

    def related_writes(self, anomaly: dict[str, Any], limit: int = 6) -> list[tuple[int, int]]:
        """(revision, op id) of the writes behind the revisions an anomaly mentions.

        An etcd anomaly names revisions, not the operations that made them; the writer
        of the expected value is usually the first thing a person wants to see.
        """
        if not self.writers:
            return []
        revs: list[int] = []
        _collect_revisions(anomaly.get("details") or {}, revs, keys=frozenset({"revision", "mod_revision"}))
        out: list[tuple[int, int]] = []
        for r in dict.fromkeys(revs):
            w = self.writers.get(r)
            if w is not None and w not in anomaly.get("ops", []):
                out.append((r, w))
        return out[:limit]

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["prefix_length"] = len(self.prefix)
        del out["prefix"]
        del out["writers"]
        return out


#: Detail keys whose integer values are revisions, in the etcd checkers' anomalies.
REVISION_KEYS = frozenset({"revision", "mod_revision", "last", "progress", "first", "start"})


def _collect_revisions(
    value: Any, out: list[int], key: str = "", keys: frozenset[str] = REVISION_KEYS
) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _collect_revisions(v, out, k, keys)
    elif isinstance(value, list):
        for v in value:
            _collect_revisions(v, out, key, keys)
    elif isinstance(value, int) and not isinstance(value, bool) and key in keys:
        out.append(value)


def revisions_in(details: dict[str, Any]) -> list[int]:
    """Revisions an anomaly's details mention, in order of appearance."""
    out: list[int] = []
    _collect_revisions(details, out)
    return list(dict.fromkeys(out))


def anomaly_dict(a: Any) -> dict[str, Any]:
    """Normalize an ``Anomaly``, its ``to_json()``, or a checker's ad-hoc dict."""
    if hasattr(a, "to_json"):
        a = a.to_json()
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        a = dataclasses.asdict(a)
    if not isinstance(a, dict):
        return {"kind": "anomaly", "message": str(a), "ops": [], "watch": None, "members": [], "details": {}}
    core = {"kind", "message", "ops", "watch", "members", "details"}
    details = dict(a.get("details") or {})
    details.update({k: v for k, v in a.items() if k not in core})
    return {
        "kind": str(a.get("kind") or "anomaly"),
        "message": str(a.get("message") or ""),
        "ops": [int(i) for i in a.get("ops") or []],
        "watch": a.get("watch"),
        "members": [str(m) for m in a.get("members") or []],
        "details": details,
    }


def from_anomalies(
    verdict: str, anomalies: Iterable[Any], model: str | None = None, reason: str = ""
) -> ReportVerdict:
    """From the etcd checker's verdict (``.verdict``, ``.anomalies``) or any list of anomalies."""
    return ReportVerdict(
        verdict=verdict, model=model, anomalies=[anomaly_dict(a) for a in anomalies], reason=reason
    )


def from_etcd_verdict(res: Any, model_name: str = "etcd") -> ReportVerdict:
    """From ``models.etcd.check_history``: its anomalies, and who wrote each revision."""
    reason = getattr(res, "reason", "") or ""
    if res.verdict == "unknown" and not reason:
        reason = "the etcd checker could not decide within its budget"
    out = from_anomalies(res.verdict, res.anomalies, model_name, reason)
    out.writers = {r: w for r, w in enumerate(getattr(res, "writers", None) or []) if w is not None}
    return out


def from_check_result(
    res: Any, model_name: str | None = None, model: Any = None, ops: Iterable[Any] = ()
) -> ReportVerdict:
    """From ``models.linearizability.CheckResult``: keeps the witness the report highlights.

    With the model and the operations, it also says what each stuck operation should
    have observed in the witness state, when the model is simple enough to tell.
    """
    out = ReportVerdict(
        verdict=res.verdict, model=model_name, reason=res.reason, elapsed_ms=round(res.elapsed * 1000, 3)
    )
    w = res.witness
    if w is not None:
        out.prefix = list(w.prefix)
        out.stuck = list(w.stuck)
        out.state_text = w.state_text
        out.partition = w.partition
        if model is not None:
            by_id = {op.id: op for op in ops}
            for i in w.stuck:
                op = by_id.get(i)
                text = expected_text(model, w.state, op.input) if op is not None else None
                if text is not None:
                    out.expected[i] = text
        messages = w.explanations or [f"op {i} cannot be placed" for i in w.stuck]
        out.anomalies.append(
            {
                "kind": "non-linearizable",
                "message": "; ".join(messages),
                "ops": list(w.stuck),
                "watch": None,
                "members": [],
                "details": {"prefix_length": len(w.prefix), "state": w.state_text, "partition": w.partition},
            }
        )
    return out


def expected_text(model: Any, state: Any, input: Any) -> str | None:
    """What a read-like operation should have returned in ``state``, for the simple models.

    The model protocol has no "expected output"; for registers and kv maps the state is
    the value itself, which is all a reader needs to see the contradiction at a glance.
    """
    if not isinstance(input, dict):
        return None
    kind = input.get("kind")
    name = getattr(model, "name", "")
    try:
        if name in ("cas-register", "kv") and kind in ("read", "get"):
            return str(model.describe_operation(input, {"value": state}))
        if name == "cas-register" and kind == "cas":
            return str(model.describe_operation(input, {"ok": state == input.get("expect")}))
    except (KeyError, TypeError, ValueError):
        return None
    return None


def as_report_verdict(obj: Any, model_name: str | None = None) -> ReportVerdict:
    """Whatever a caller has at hand: None (not checked), a ReportVerdict, a
    ``CheckResult`` (has ``partitions``), or anything with ``verdict`` and ``anomalies``
    (the etcd checker's verdict, check's ``FileVerdict``)."""
    if obj is None:
        return not_checked("no check was run", model_name)
    if isinstance(obj, ReportVerdict):
        return obj
    if hasattr(obj, "partitions") and hasattr(obj, "witness"):
        return from_check_result(obj, model_name)
    if hasattr(obj, "verdict") and hasattr(obj, "anomalies"):
        out = from_etcd_verdict(obj, getattr(obj, "model", None) or model_name or "etcd")
        out.reason = out.reason or str(getattr(obj, "reason", "") or "")
        return out
    raise TypeError(f"cannot report a verdict of type {type(obj).__name__}")


def not_checked(reason: str, model: str | None = None) -> ReportVerdict:
    return ReportVerdict(verdict=NOT_CHECKED, model=model, reason=reason)


def run_check(
    hist: History,
    model_name: str | None = None,
    initial: Any = None,
    timeout: float | None = 60.0,
    max_states: int | None = None,
) -> ReportVerdict:
    """Check ``hist`` as ``etcd-harness check`` would, but keep what a report needs.

    Never raises for a checker failure: a report of an uncheckable history is still worth
    having, so the failure becomes a ``not checked`` verdict with the reason.
    """
    name = model_name or hist.model or "etcd"
    started = time.monotonic()
    try:
        if name == "etcd":
            from models.etcd import check_history as check_etcd

            out = from_etcd_verdict(check_etcd(hist, timeout=timeout), name)
        else:
            from models.linearizability import DEFAULT_MAX_STATES, check
            from models.registry import make_model

            options = dict(hist.header.model_options)
            if initial is not None:
                options["initial"] = initial
            model = make_model(name, options)
            ops = hist.operations()
            res = check(model, ops, timeout=timeout, max_states=max_states or DEFAULT_MAX_STATES)
            out = from_check_result(res, name, model, ops)
    except Exception as exc:  # noqa: BLE001 - any checker failure must still leave a report
        out = not_checked(f"the {name} checker failed: {type(exc).__name__}: {exc}", name)
        out.internal_error = f"{type(exc).__name__}: {exc}"
        return out
    out.elapsed_ms = round((time.monotonic() - started) * 1000, 3)
    return out
