"""What a failed call tells the checker: ``ok``, ``fail`` or ``unknown``.

A wrong ``fail`` (the write did happen) makes the checker see a value nobody wrote: a
false alarm. A wrong ``unknown`` only costs search time. So every rule below that says
``fail`` for something that may write rests on etcd rejecting the request before it is
proposed to raft, or applying it as a no-op, and anything not listed is ``unknown``.

Classification, first matching row wins ("write" = :func:`may_write`: put, delete,
lease_grant, lease_revoke, compact, a txn with a put/delete/nested write in either
branch; "read" = range, defragment, a txn of ranges only):

=====================================================  ===========  =====================
error                                                  op           status / output
=====================================================  ===========  =====================
``InvalidOperation`` (bad input, nothing sent)         any          fail
OUT_OF_RANGE "mvcc: required revision has been         range, txn,  ok ``{"error":
compacted"                                             compact      "compacted"}``
OUT_OF_RANGE "mvcc: required revision is a future      range, txn,  ok ``{"error":
revision"                                              compact      "future_revision"}``
NOT_FOUND "etcdserver: requested lease not found"      put, txn,    ok ``{"error":
                                                       lease_revoke "lease_not_found"}``
any other error                                        read         fail
INVALID_ARGUMENT, FAILED_PRECONDITION (e.g. lease      write        fail
already exists), PERMISSION_DENIED, UNAUTHENTICATED,
UNIMPLEMENTED, ALREADY_EXISTS, NOT_FOUND, OUT_OF_RANGE
RESOURCE_EXHAUSTED "etcdserver: ..." (too many         write        fail
requests, database space exceeded)
UNAVAILABLE "failed to connect to all addresses"       write        fail
DEADLINE_EXCEEDED, CANCELLED, UNAVAILABLE (reset,      write        unknown
"request timed out", "leader changed", "no leader",
"server stopped"), UNKNOWN, INTERNAL, ABORTED,
DATA_LOSS, other RESOURCE_EXHAUSTED (grpc's own, e.g.
a response over the size limit: the write happened),
any exception that is not an EtcdError
=====================================================  ===========  =====================

Why the ``ok`` rows are definite: etcd checks compaction/future revisions and lease
existence while applying the entry (or serving the read after its read index), so the
error is the state's answer and the request changed nothing; a model can predict it.
A txn gets them for the branch it took. Exception: a serializable read (a range with
``serializable``, or a txn of serializable ranges only) is answered from the member's
possibly stale local state, so its errors are ``fail`` like any other failed read.

Why "failed to connect to all addresses" is ``fail``: grpc reports it when no
connection could be picked for the call (connection refused, member down), before any
byte of the request went out. Errors on a call that was on the wire (reset, GOAWAY,
"Socket closed") have other messages and stay ``unknown``.
"""

from __future__ import annotations

from typing import Any

from harness.client.convert import InvalidOperation
from harness.client.errors import EtcdError
from models.etcd.requests import is_serializable_read, may_write
from models.history import ErrorInfo, Status
from models.operation import Request

COMPACTED = "mvcc: required revision has been compacted"
FUTURE_REVISION = "mvcc: required revision is a future revision"
LEASE_NOT_FOUND = "etcdserver: requested lease not found"
NOT_CONNECTED = "failed to connect to all addresses"

_REVISION_ERRORS = {COMPACTED: "compacted", FUTURE_REVISION: "future_revision"}
_REVISION_KINDS = frozenset({"range", "txn", "compact"})
_LEASE_KINDS = frozenset({"put", "txn", "lease_revoke"})

DEFINITE_CODES = frozenset(
    {
        "INVALID_ARGUMENT",
        "FAILED_PRECONDITION",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
        "UNIMPLEMENTED",
        "ALREADY_EXISTS",
        "NOT_FOUND",
        "OUT_OF_RANGE",
    }
)


def error_info(exc: BaseException) -> ErrorInfo:
    if isinstance(exc, EtcdError):
        return ErrorInfo(code=exc.code, message=exc.message)
    if isinstance(exc, InvalidOperation):
        return ErrorInfo(code="INVALID_OPERATION", message=str(exc))
    if isinstance(exc, ConnectionResetError):
        return ErrorInfo(code="CONNECTION_RESET", message=str(exc))
    return ErrorInfo(code=f"CLIENT_{type(exc).__name__}", message=str(exc))


def model_error(op: Request, exc: EtcdError) -> str | None:
    """The ``output.error`` name when the error is a definite, predictable answer."""
    kind = op.get("kind")
    msg = exc.message
    if exc.code == "OUT_OF_RANGE" and kind in _REVISION_KINDS:
        for text, name in _REVISION_ERRORS.items():
            if text in msg:
                return None if is_serializable_read(op) else name
    if exc.code == "NOT_FOUND" and kind in _LEASE_KINDS and LEASE_NOT_FOUND in msg:
        return "lease_not_found"
    return None


def definite_failure(exc: EtcdError) -> bool:
    """The request was certainly not applied (see the table in the module docstring)."""
    code = exc.code
    if code in DEFINITE_CODES:
        return True
    if code == "RESOURCE_EXHAUSTED":
        return exc.message.startswith("etcdserver:")
    if code == "UNAVAILABLE":
        return exc.message.startswith(NOT_CONNECTED)
    return False


def classify(op: Request, exc: BaseException) -> tuple[Status, Any, ErrorInfo]:
    """(status, output, error) to record for ``op`` whose call raised ``exc``."""
    info = error_info(exc)
    if isinstance(exc, InvalidOperation):
        return "fail", None, info
    if isinstance(exc, EtcdError):
        name = model_error(op, exc)
        if name is not None:
            return "ok", {"error": name}, info
        if not may_write(op) or definite_failure(exc):
            return "fail", None, info
        return "unknown", None, info
    if not may_write(op):
        return "fail", None, info
    return "unknown", None, info
