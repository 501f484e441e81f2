"""Typed responses, read off the output dicts the recorder wrote into the history.

Built from the record rather than from the gRPC message so that what a test asserts is
exactly what the checker judged. ``revision`` is the response header's; member id and
raft term, which nothing checks, stay in ``record.output``. Responses inside a txn carry
no header of their own in the history, so they get the txn's revision.

``record`` (left out of equality and repr) is the OpRecord of the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.history import OpRecord
from models.operation import Request


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: str
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KeyValue:
        return cls(
            key=d["key"],
            value=d.get("value") or "",
            create_revision=_int(d, "create_revision"),
            mod_revision=int(d["mod_revision"]),
            version=_int(d, "version"),
            lease=_int(d, "lease"),
        )


def _kv(d: dict[str, Any] | None) -> KeyValue | None:
    return KeyValue.from_dict(d) if d else None


def _kvs(ds: list[dict[str, Any]] | None) -> list[KeyValue]:
    return [KeyValue.from_dict(d) for d in ds or ()]


@dataclass(frozen=True, kw_only=True, slots=True)
class Response:
    revision: int
    record: OpRecord | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class RangeResponse(Response):
    kvs: list[KeyValue]
    count: int
    more: bool = False

    @property
    def kv(self) -> KeyValue | None:
        """The key a get asked for, None when it does not exist."""
        return self.kvs[0] if self.kvs else None


@dataclass(frozen=True, kw_only=True, slots=True)
class PutResponse(Response):
    prev_kv: KeyValue | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class DeleteResponse(Response):
    deleted: int
    prev_kvs: list[KeyValue] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True, slots=True)
class TxnResponse(Response):
    succeeded: bool
    #: One per request of the branch taken, in order.
    responses: list[RangeResponse | PutResponse | DeleteResponse | TxnResponse] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True, slots=True)
class LeaseGrantResponse(Response):
    id: int
    ttl: int


@dataclass(frozen=True, kw_only=True, slots=True)
class LeaseRevokeResponse(Response):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class LeaseKeepAliveResponse(Response):
    id: int
    ttl: int


@dataclass(frozen=True, kw_only=True, slots=True)
class LeaseTimeToLiveResponse(Response):
    """``ttl`` is what remains, ``granted_ttl`` what the grant asked; ``keys`` are
    listed (sorted) only when the call asked for them."""

    id: int
    ttl: int
    granted_ttl: int
    keys: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True, slots=True)
class CompactResponse(Response):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class DefragmentResponse(Response):
    """etcd 3.4 sends it with an empty header: ``revision`` 0 there."""


KvResponse = RangeResponse | PutResponse | DeleteResponse | TxnResponse


def _revision(output: dict[str, Any]) -> int:
    return _int(output.get("header") or {}, "revision")


def _int(d: dict[str, Any], name: str) -> int:
    """Fields the schema lets a history leave out (the model's own outputs do) read 0."""
    return int(d.get(name) or 0)


def parse(request: Request, output: dict[str, Any], record: OpRecord | None = None) -> Response:
    """The typed form of an ``ok`` output without an ``error`` (errors: see errors.py)."""
    kind = request["kind"]
    rev = _revision(output)
    if kind in ("range", "put", "delete", "txn"):
        return parse_kv(request, output, rev, record)
    if kind == "lease_grant":
        return LeaseGrantResponse(revision=rev, record=record, id=_int(output, "id"), ttl=_int(output, "ttl"))
    if kind == "lease_revoke":
        return LeaseRevokeResponse(revision=rev, record=record)
    if kind == "lease_keepalive":
        return LeaseKeepAliveResponse(
            revision=rev, record=record, id=_int(output, "id"), ttl=_int(output, "ttl")
        )
    if kind == "lease_timetolive":
        return LeaseTimeToLiveResponse(
            revision=rev, record=record, id=_int(output, "id"), ttl=_int(output, "ttl"),
            granted_ttl=_int(output, "granted_ttl"), keys=list(output.get("keys") or ()),
        )  # fmt: skip
    if kind == "compact":
        return CompactResponse(revision=rev, record=record)
    if kind == "defragment":
        return DefragmentResponse(revision=rev, record=record)
    raise ValueError(f"no typed response for request kind {kind!r}")


def parse_kv(request: Request, output: dict[str, Any], rev: int, record: OpRecord | None) -> KvResponse:
    """A kv response at top level or inside a txn (``rev``: the txn's revision there)."""
    kind = request["kind"]
    if kind == "range":
        return RangeResponse(
            revision=rev, record=record, kvs=_kvs(output.get("kvs")),
            count=_int(output, "count"), more=bool(output.get("more")),
        )  # fmt: skip
    if kind == "put":
        return PutResponse(revision=rev, record=record, prev_kv=_kv(output.get("prev_kv")))
    if kind == "delete":
        return DeleteResponse(
            revision=rev, record=record, deleted=_int(output, "deleted"),
            prev_kvs=_kvs(output.get("prev_kvs")),
        )  # fmt: skip
    if kind == "txn":
        succeeded = bool(output.get("succeeded"))
        branch = request.get("success" if succeeded else "failure") or []
        subs = output.get("responses") or []
        if len(subs) != len(branch):
            raise ValueError(f"a txn's branch has {len(branch)} requests and its response {len(subs)}")
        return TxnResponse(
            revision=rev, record=record, succeeded=succeeded,
            responses=[parse_kv(b, r, rev, record) for b, r in zip(branch, subs, strict=True)],
        )  # fmt: skip
    raise ValueError(f"request kind {kind!r} cannot be part of a txn")
