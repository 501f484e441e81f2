"""What a report points at, read off a verdict: the operations to highlight, the writes
behind the revisions an anomaly names, what a stuck operation should have returned.

Presentation only: the verdict is :class:`models.verdict.Verdict`, whichever check made
it; these read its anomalies and witness without knowing which check ran.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from models.anomaly import Anomaly
from models.verdict import Verdict, Witness

#: Detail keys whose integer values are revisions, in the etcd checkers' anomalies.
REVISION_KEYS = frozenset({"revision", "mod_revision", "last", "progress", "first", "start"})


def witness(v: Verdict) -> Witness:
    """The verdict's witness, or an empty one: callers need not test for None."""
    return v.witness or Witness()


def violating_ops(v: Verdict) -> list[int]:
    """Ops to point at, first the ones that cannot be placed, in a stable order."""
    seen: dict[int, None] = dict.fromkeys(witness(v).stuck)
    for a in v.anomalies:
        for i in a.ops:
            seen.setdefault(int(i), None)
    return list(seen)


def related_writes(v: Verdict, anomaly: Anomaly, limit: int = 6) -> list[tuple[int, int]]:
    """(revision, op id) of the writes behind the revisions an anomaly mentions.

    An etcd anomaly names revisions, not the operations that made them; the writer of
    the expected value is usually the first thing a person wants to see.
    """
    writers = witness(v).writers
    if not writers:
        return []
    revs: list[int] = []
    _collect_revisions(anomaly.details, revs, keys=frozenset({"revision", "mod_revision"}))
    out: list[tuple[int, int]] = []
    for r in dict.fromkeys(revs):
        w = writers.get(r)
        if w is not None and w not in anomaly.ops:
            out.append((r, w))
    return out[:limit]


def is_search_witness(v: Verdict) -> bool:
    """The generic search's witness of a violation: a prefix and the ops stuck after it."""
    return v.verdict == "illegal" and bool(witness(v).stuck)


def witness_anomaly(v: Verdict, a: Anomaly) -> bool:
    """Whether ``a`` is the anomaly that only restates the search's witness."""
    return is_search_witness(v) and a.kind == "non-linearizable" and a.ops == witness(v).stuck


def expected_texts(v: Verdict, ops: Iterable[Any]) -> dict[int, str]:
    """What each stuck read-like operation should have returned in the witness state,
    for the models simple enough to tell (registers and kv maps: the state is the value)."""
    w = witness(v)
    if not w.stuck or v.model not in ("cas-register", "kv"):
        return {}
    from models.registry import make_model

    model = make_model(v.model)
    by_id = {op.id: op for op in ops}
    out: dict[int, str] = {}
    for i in w.stuck:
        op = by_id.get(i)
        text = _expected_text(model, w.state, op.input) if op is not None else None
        if text is not None:
            out[i] = text
    return out


def _expected_text(model: Any, state: Any, input: Any) -> str | None:
    if not isinstance(input, dict):
        return None
    kind = input.get("kind")
    if kind in ("read", "get"):
        return str(model.describe_operation(input, {"value": state}))
    if kind == "cas":
        return str(model.describe_operation(input, {"ok": state == input.get("expect")}))
    return None


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
