"""The permission check of ``--auth`` runs: served and refused requests against the
auth changes surely in force (``permission-ignored``, ``permission-denied``)."""

from __future__ import annotations

from typing import Any

import pytest

from models.etcd import check_history
from models.etcd.permissions import check_permissions
from models.history import ErrorInfo, FaultRecord, Header, History, OpRecord

LAYOUT = {
    "user": "harness-user",
    "role": "harness-role",
    "churn": ["key/", "key/0010"],
    "fixed": [["\x01", "key/"], ["key/0010", "\xff"]],
}
MS = 1_000_000


def _change(fid: int, changes: list[tuple[str, int, int | None]]) -> list[FaultRecord]:
    detail = {
        "changes": [
            {"change": c, "call": a * MS, "return": None if b is None else b * MS} for c, a, b in changes
        ]
    }
    return [FaultRecord(id=fid, phase="end", kind="auth", time=0, targets=["m0"], detail=detail)]


def _op(req: dict[str, Any], call: int, ret: int, *, denied: bool = False) -> OpRecord:
    if denied:
        return OpRecord(
            id=7,
            client=1,
            call=call * MS,
            ret=ret * MS,
            input=req,
            status="fail",
            error=ErrorInfo(code="PERMISSION_DENIED", message="etcdserver: permission denied"),
            member="m1",
        )
    return OpRecord(
        id=7, client=1, call=call * MS, ret=ret * MS, input=req, status="ok", output={}, member="m1"
    )


def put(key: str, lease: int = 0) -> dict[str, Any]:
    return {"kind": "put", "key": key, "value": "v", "lease": lease}


def get(key: str, end: str | None = None, serializable: bool = False) -> dict[str, Any]:
    return {"kind": "range", "key": key, "range_end": end, "serializable": serializable}


REVOKED_10_TO_50 = _change(1, [("revoke", 10, 12), ("grant", 50, 52)])
REVOKE_UNKNOWN = _change(1, [("revoke", 10, None)])
USER_GONE_10_TO_50 = _change(2, [("delete-user", 10, 12), ("add-user", 50, 53)])

CASES = [
    # (name, faults, op, expected kinds)
    (
        "churn write served while revoked",
        REVOKED_10_TO_50,
        _op(put("key/0003"), 20, 30),
        ["permission-ignored"],
    ),
    ("churn write served before the revoke", REVOKED_10_TO_50, _op(put("key/0003"), 2, 9), []),
    ("churn write overlapping the revoke", REVOKED_10_TO_50, _op(put("key/0003"), 11, 30), []),
    ("churn write overlapping the grant", REVOKED_10_TO_50, _op(put("key/0003"), 20, 51), []),
    ("fixed write served while churn revoked", REVOKED_10_TO_50, _op(put("key/0050"), 20, 30), []),
    (
        "fixed read refused, nothing changed",
        [],
        _op(get("key/0050"), 20, 30, denied=True),
        ["permission-denied"],
    ),
    ("churn read refused while revoked", REVOKED_10_TO_50, _op(get("key/0003"), 20, 30, denied=True), []),
    (
        "churn read refused after the grant",
        REVOKED_10_TO_50,
        _op(get("key/0003"), 60, 70, denied=True),
        ["permission-denied"],
    ),
    ("churn read refused during the grant", REVOKED_10_TO_50, _op(get("key/0003"), 45, 51, denied=True), []),
    (
        "list over the prefix served while revoked",
        REVOKED_10_TO_50,
        _op(get("key/", "key0"), 20, 30),
        ["permission-ignored"],
    ),
    ("range to the end is never held", REVOKED_10_TO_50, _op(get("key/", "\x00"), 20, 30), []),
    ("serializable read is not held", REVOKED_10_TO_50, _op(get("key/0003", serializable=True), 20, 30), []),
    ("leased write refused is not held", [], _op(put("key/0050", lease=5), 20, 30, denied=True), []),
    ("revoke of unknown outcome holds nothing", REVOKE_UNKNOWN, _op(put("key/0003"), 20, 30), []),
    (
        "served while the user was deleted",
        USER_GONE_10_TO_50,
        _op(put("key/0050"), 20, 30),
        ["permission-ignored"],
    ),
    ("refused while the user was deleted", USER_GONE_10_TO_50, _op(get("key/0050"), 20, 30, denied=True), []),
    (
        "refused after the user came back",
        USER_GONE_10_TO_50,
        _op(get("key/0050"), 60, 70, denied=True),
        ["permission-denied"],
    ),
    (
        "txn comparing a churn key served while revoked",
        REVOKED_10_TO_50,
        _op(
            {
                "kind": "txn",
                "compare": [{"key": "key/0003", "target": "version", "result": "equal", "value": 0}],
                "success": [put("key/0050")],
                "failure": [],
            },
            20,
            30,
        ),
        ["permission-ignored"],
    ),
    (
        "a second revoke after a grant",
        _change(1, [("revoke", 10, 12), ("grant", 20, 22), ("revoke", 30, 31)]),
        _op(put("key/0003"), 40, 45),
        ["permission-ignored"],
    ),
    (
        "a grant after the op was sent leaves it alone",
        _change(1, [("revoke", 10, 12), ("grant", 20, 22), ("revoke", 30, 31)]),
        _op(put("key/0003"), 15, 25),
        [],
    ),
]


@pytest.mark.parametrize(("faults", "op", "kinds"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_permission_table(faults: list[FaultRecord], op: OpRecord, kinds: list[str]) -> None:
    assert [a.kind for a in check_permissions(LAYOUT, faults, [op])] == kinds


def test_runs_without_auth_are_not_checked() -> None:
    assert check_permissions(None, [], [_op(get("key/0050"), 20, 30, denied=True)]) == []


def test_the_etcd_checker_reads_the_layout_from_the_header() -> None:
    denied = _op(get("key/0050"), 20, 30, denied=True)
    plain = History(header=Header(model="etcd"), ops=[denied])
    with_auth = History(header=Header(model="etcd", cluster={"auth": LAYOUT}), ops=[denied])
    assert check_history(plain).verdict == "ok"
    verdict = check_history(with_auth)
    assert verdict.verdict == "illegal"
    assert [a.kind for a in verdict.anomalies] == ["permission-denied"]
    assert "harness-user" in verdict.anomalies[0].message
