"""A fault-free, one-client reproduction as the etcd calls it made, in history order, on
the pytest plugin's ``etcd_recorder``: what a maintainer reads as a test of their own.

A call is written typed (``etcd_recorder.put("k", "v")``) only when the typed builder
gives back exactly the recorded request and etcd answered it; anything else (a txn, a
call that failed) is written as the recorded request, replayed by ``execute``, which
never raises. The plugin checks the history when the test ends, so it fails on the same
anomaly if etcd repeats it: a deterministic bug does, a timing-dependent one may not.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from harness.client.api import compare, op
from harness.traffic.plan import Plan
from models.history import OpRecord

#: Most calls written out: a longer test is no easier to read than the history.
MAX_CALLS = 1000

#: Per request kind, the client methods that may spell it: (method, builder, positional).
TYPED: dict[str, list[tuple[str, Callable[..., Any], tuple[str, ...]]]] = {
    "put": [("put", op.put, ("key", "value"))],
    "range": [("get", op.get, ("key",)), ("range", op.range, ("key",))],
    "delete": [("delete", op.delete, ("key",))],
    "compact": [("compact", op.compact, ("revision",))],
    "lease_grant": [("lease_grant", op.lease_grant, ("ttl",))],
    "lease_revoke": [("lease_revoke", op.lease_revoke, ("id",))],
    "lease_keepalive": [("keepalive_once", op.lease_keepalive, ("id",))],
    "lease_timetolive": [("lease_timetolive", op.lease_timetolive, ("id",))],
}


def _spell(request: dict[str, Any]) -> tuple[str, list[str]] | None:
    """(method, arguments) of the typed call that builds exactly ``request``."""
    for method, build, positional in TYPED.get(str(request.get("kind")), []):
        if any(p not in request for p in positional):
            continue
        params = inspect.signature(build).parameters
        kwargs = {
            k: v
            for k, v in request.items()
            if k != "kind" and k not in positional and k in params and v != params[k].default
        }
        try:
            built = build(*(request[p] for p in positional), **kwargs)
        except Exception:  # noqa: BLE001 - a builder that refuses it: the raw request then
            continue
        if built == request:
            return method, [repr(request[p]) for p in positional] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return None


#: Compare targets as the history writes them, and the builders that write them.
COMPARES = {
    "value": compare.value,
    "version": compare.version,
    "create": compare.create_revision,
    "mod": compare.mod_revision,
    "lease": compare.lease,
}
OPERATORS = {"=": "==", "!=": "!=", "<": "<", ">": ">"}


def _spell_compare(cmp: dict[str, Any]) -> str | None:
    build, operator = COMPARES.get(cmp.get("target", "")), OPERATORS.get(cmp.get("result", ""))
    if build is None or operator is None or "key" not in cmp:
        return None
    target = build(cmp["key"], cmp.get("range_end"))
    try:
        built = {"==": target.__eq__, "!=": target.__ne__, "<": target.__lt__, ">": target.__gt__}[operator](
            cmp.get("value")
        )
    except TypeError:
        return None
    if built != cmp:
        return None
    end = f", {cmp['range_end']!r}" if cmp.get("range_end") is not None else ""
    return f"{build.__name__}({cmp['key']!r}{end}) {operator} {cmp['value']!r}"


def _spell_branch(requests: list[dict[str, Any]]) -> str | None:
    spelled = [_spell(r) for r in requests]
    if any(s is None for s in spelled):
        return None
    return ", ".join(f"op.{s[0]}({', '.join(s[1])})" for s in spelled if s is not None)


def _spell_txn(request: dict[str, Any]) -> str | None:
    compares = [_spell_compare(c) for c in request.get("compare", [])]
    then, otherwise = _spell_branch(request.get("success", [])), _spell_branch(request.get("failure", []))
    if any(c is None for c in compares) or then is None or otherwise is None:
        return None
    if op.txn(request.get("compare", []), request.get("success", []), request.get("failure", [])) != request:
        return None
    return (
        f"etcd_recorder.txn([{', '.join(c for c in compares if c)}], then=[{then}], otherwise=[{otherwise}])"
    )


def call_line(record: OpRecord) -> str:
    if record.status == "ok":
        if record.input.get("kind") == "txn":
            txn = _spell_txn(record.input)
            if txn is not None:
                return txn
        elif (spelled := _spell(record.input)) is not None:
            return f"etcd_recorder.{spelled[0]}({', '.join(spelled[1])})"
    return f"etcd_recorder.execute({record.input!r})"


def applies(plan: Plan) -> bool:
    return len(plan.clients) == 1 and not plan.faults and not plan.watchers


def calls_test(plan: Plan, ops: list[OpRecord], title: str) -> str | None:
    """The test file, or None when the plan is not one fault-free client's or its
    client made more calls than :data:`MAX_CALLS`."""
    if not applies(plan):
        return None
    client = plan.clients[0].client
    mine = sorted((o for o in ops if o.client == client), key=lambda o: (o.call, o.id))
    if not mine or len(mine) > MAX_CALLS:
        return None
    body = "\n".join(f"    {call_line(o)}" for o in mine)
    return (
        f'"""{title}: the calls of the shrunk run\'s one client, in the order it made them.\n\n'
        "The etcd_recorder fixture (etcd-harness's pytest plugin) checks the history when\n"
        'the test ends and fails on any anomaly; run with --etcd-version to pick the build."""\n\n\n'
        "from harness.client.api import create_revision, lease, mod_revision, op, value, version  # noqa: F401\n\n\n"
        f"def test_recorded_calls(etcd_recorder):\n{body}\n"
    )
