"""Run one operation of the history schema (an ``input`` dict) and return its ``output``.

This is the traffic path: it builds the request straight from the dict, makes one call,
and converts the response straight back, with no intermediate objects.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from harness.client import convert
from harness.client.convert import InvalidOperation
from harness.client.errors import EtcdError
from harness.client.etcd import EtcdClient
from harness.client.proto import etcd_pb2 as pb
from models.operation import Request


def execute(client: EtcdClient, op: Request, timeout: float | None = None) -> dict[str, Any]:
    """Run ``op`` against the client's member; raises :class:`EtcdError` on failure and
    :class:`InvalidOperation` for an input outside the schema (before anything is sent)."""
    method, request, output = prepare(client, op)
    return output(client.call(method, request, timeout))


def prepare(client: Any, op: Request) -> tuple[Any, Any, Callable[[Any], dict[str, Any]]]:
    """(stub method, request, response converter) for ``op``; raises InvalidOperation.

    ``client`` is anything with the ``kv``/``lease``/``maintenance`` stubs, sync or aio.
    """
    try:
        return _prepare(client, op)
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidOperation(f"bad operation {op!r}: {exc!r}") from None


def _prepare(client: Any, op: Request) -> tuple[Any, Any, Callable[[Any], dict[str, Any]]]:
    kind = op["kind"]
    if kind == "put":
        return client.kv.Put, convert.put_request(op), convert.put_output
    if kind == "range":
        return client.kv.Range, convert.range_request(op), convert.range_output
    if kind == "txn":
        return client.kv.Txn, convert.txn_request(op), convert.txn_output
    if kind == "delete":
        return client.kv.DeleteRange, convert.delete_request(op), convert.delete_output
    if kind == "lease_grant":
        if not op["id"]:
            raise InvalidOperation("lease_grant needs a non-zero id chosen by the client")
        return client.lease.LeaseGrant, pb.LeaseGrantRequest(ID=op["id"], TTL=op["ttl"]), _lease_grant_output
    if kind == "lease_revoke":
        return client.lease.LeaseRevoke, pb.LeaseRevokeRequest(ID=op["id"]), convert.header_output
    if kind == "lease_keepalive":
        method = _keepalive_async if getattr(client, "asynchronous", False) else _keepalive_sync
        return (
            partial(method, client.lease.LeaseKeepAlive),
            pb.LeaseKeepAliveRequest(ID=op["id"]),
            convert.lease_keepalive_output,
        )
    if kind == "lease_timetolive":
        req = pb.LeaseTimeToLiveRequest(ID=op["id"], keys=bool(op.get("keys")))
        return client.lease.LeaseTimeToLive, req, convert.lease_timetolive_output
    if kind == "compact":
        req = pb.CompactionRequest(revision=op["revision"], physical=bool(op.get("physical")))
        return client.kv.Compact, req, convert.header_output
    if kind == "defragment":
        return client.maintenance.Defragment, pb.DefragmentRequest(), convert.header_output
    raise InvalidOperation(f"unknown operation kind {kind!r}")


def _keepalive_sync(stream: Any, request: Any, timeout: float | None = None) -> Any:
    """One renewal on a stream of its own: the harness renews rarely, and a fresh stream
    keeps one renewal's outcome apart from the next."""
    for resp in stream(iter([request]), timeout=timeout):
        return resp
    raise EtcdError("UNKNOWN", "keep-alive stream closed without a response")


async def _keepalive_async(stream: Any, request: Any, timeout: float | None = None) -> Any:
    call = stream(iter([request]), timeout=timeout)
    try:
        async for resp in call:
            return resp
    finally:
        call.cancel()
    raise EtcdError("UNKNOWN", "keep-alive stream closed without a response")


def _lease_grant_output(resp: pb.LeaseGrantResponse) -> dict[str, Any]:
    if resp.error:
        raise EtcdError("UNKNOWN", resp.error)
    return convert.lease_grant_output(resp)
