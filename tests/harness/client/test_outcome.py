"""The outcome table of harness.client.outcome, row by row (no etcd needed)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.client.convert import InvalidOperation
from harness.client.errors import EtcdError
from harness.client.outcome import classify

PUT = {"kind": "put", "key": "k", "value": "v", "lease": 0, "prev_kv": False}
PUT_LEASE = {"kind": "put", "key": "k", "value": "v", "lease": 7, "prev_kv": False}
DELETE = {"kind": "delete", "key": "k", "range_end": None, "prev_kv": False}
RANGE = {"kind": "range", "key": "k", "range_end": None, "revision": 3}
SRANGE = {**RANGE, "serializable": True}
READ_TXN = {"kind": "txn", "compare": [], "success": [RANGE], "failure": []}
SREAD_TXN = {"kind": "txn", "compare": [], "success": [SRANGE], "failure": [SRANGE]}
WRITE_TXN = {"kind": "txn", "compare": [], "success": [RANGE], "failure": [PUT]}
GRANT = {"kind": "lease_grant", "id": 7, "ttl": 10}
REVOKE = {"kind": "lease_revoke", "id": 7}
COMPACT = {"kind": "compact", "revision": 5, "physical": False}
DEFRAG = {"kind": "defragment"}

WRITES = [PUT, PUT_LEASE, DELETE, WRITE_TXN, GRANT, REVOKE, COMPACT]
READS = [RANGE, SRANGE, READ_TXN, SREAD_TXN, DEFRAG]

COMPACTED = EtcdError("OUT_OF_RANGE", "etcdserver: mvcc: required revision has been compacted")
FUTURE = EtcdError("OUT_OF_RANGE", "etcdserver: mvcc: required revision is a future revision")
NO_LEASE = EtcdError("NOT_FOUND", "etcdserver: requested lease not found")

UNKNOWN_ERRORS = [
    EtcdError("DEADLINE_EXCEEDED", "Deadline Exceeded"),
    EtcdError("UNAVAILABLE", "etcdserver: request timed out"),
    EtcdError("UNAVAILABLE", "etcdserver: leader changed"),
    EtcdError("UNAVAILABLE", "etcdserver: no leader"),
    EtcdError("UNAVAILABLE", "Connection reset by peer"),
    EtcdError("UNAVAILABLE", "Socket closed"),
    EtcdError("CANCELLED", "Channel closed"),
    EtcdError("UNKNOWN", "raft: proposal dropped"),
    EtcdError("INTERNAL", "whatever"),
    EtcdError("RESOURCE_EXHAUSTED", "Received message larger than max (999 vs. 4)"),
    ConnectionResetError("reset"),
    RuntimeError("bug after the call"),
]
FAIL_ERRORS = [
    EtcdError("INVALID_ARGUMENT", "etcdserver: duplicate key given in txn request"),
    EtcdError("FAILED_PRECONDITION", "etcdserver: lease already exists"),
    EtcdError("RESOURCE_EXHAUSTED", "etcdserver: too many requests"),
    EtcdError("RESOURCE_EXHAUSTED", "etcdserver: mvcc: database space exceeded"),
    EtcdError("PERMISSION_DENIED", "etcdserver: permission denied"),
    EtcdError("UNAUTHENTICATED", "etcdserver: invalid auth token"),
    EtcdError(
        "UNAVAILABLE",
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Connection refused",
    ),
    InvalidOperation("bad input"),
]


def _ids(xs: list[Any]) -> list[str]:
    return [getattr(x, "code", type(x).__name__) + ":" + str(x)[:40] for x in xs]


@pytest.mark.parametrize("op", WRITES, ids=lambda o: o["kind"])
@pytest.mark.parametrize("exc", UNKNOWN_ERRORS, ids=_ids(UNKNOWN_ERRORS))
def test_writes_with_indefinite_errors_are_unknown(op: dict[str, Any], exc: BaseException) -> None:
    status, output, err = classify(op, exc)
    assert (status, output) == ("unknown", None)
    assert err.code


@pytest.mark.parametrize("op", WRITES, ids=lambda o: o["kind"])
@pytest.mark.parametrize("exc", FAIL_ERRORS, ids=_ids(FAIL_ERRORS))
def test_writes_with_definite_errors_fail(op: dict[str, Any], exc: BaseException) -> None:
    assert classify(op, exc)[:2] == ("fail", None)


@pytest.mark.parametrize("op", READS, ids=lambda o: o["kind"] + ("/s" if "serializable" in str(o) else ""))
@pytest.mark.parametrize("exc", UNKNOWN_ERRORS + FAIL_ERRORS, ids=_ids(UNKNOWN_ERRORS + FAIL_ERRORS))
def test_failed_reads_fail(op: dict[str, Any], exc: BaseException) -> None:
    assert classify(op, exc)[:2] == ("fail", None)


@pytest.mark.parametrize("op", [RANGE, READ_TXN, WRITE_TXN, COMPACT], ids=lambda o: o["kind"])
@pytest.mark.parametrize(("exc", "name"), [(COMPACTED, "compacted"), (FUTURE, "future_revision")])
def test_revision_errors_are_model_answers(op: dict[str, Any], exc: EtcdError, name: str) -> None:
    status, output, err = classify(op, exc)
    assert (status, output) == ("ok", {"error": name})
    assert (err.code, err.message) == (exc.code, exc.message)


@pytest.mark.parametrize("op", [SRANGE, SREAD_TXN], ids=["range", "txn"])
@pytest.mark.parametrize("exc", [COMPACTED, FUTURE], ids=["compacted", "future"])
def test_serializable_reads_revision_errors_fail(op: dict[str, Any], exc: EtcdError) -> None:
    """A lagging member's local answer says nothing about the linearized state."""
    assert classify(op, exc)[:2] == ("fail", None)


@pytest.mark.parametrize("op", [PUT_LEASE, REVOKE, WRITE_TXN], ids=lambda o: o["kind"])
def test_lease_not_found_is_a_model_answer(op: dict[str, Any]) -> None:
    status, output, err = classify(op, NO_LEASE)
    assert (status, output) == ("ok", {"error": "lease_not_found"})
    assert err.code == "NOT_FOUND"


def test_errors_on_ops_that_cannot_produce_them_are_not_model_answers() -> None:
    assert classify(DELETE, COMPACTED)[0] == "fail"
    assert classify(GRANT, NO_LEASE)[0] == "fail"
    assert classify(RANGE, NO_LEASE)[0] == "fail"


def test_model_error_requires_the_etcd_code() -> None:
    """The same text under another code (a proxy's rewrite, say) is not trusted."""
    assert classify(PUT_LEASE, EtcdError("UNKNOWN", "etcdserver: requested lease not found"))[0] == "unknown"
    assert classify(RANGE, EtcdError("UNKNOWN", "mvcc: required revision has been compacted"))[0] == "fail"


def test_error_info_keeps_code_and_message() -> None:
    _, _, err = classify(PUT, EtcdError("UNAVAILABLE", "etcdserver: request timed out", "debug"))
    assert (err.code, err.message) == ("UNAVAILABLE", "etcdserver: request timed out")
    _, _, err = classify(PUT, ConnectionResetError("peer"))
    assert err.code == "CONNECTION_RESET"
