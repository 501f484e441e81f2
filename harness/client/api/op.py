"""Requests named like etcd's verbs (clientv3's ``OpPut``, ``OpGet``...), as the dicts
``Recorder.execute`` takes: ``op.put("k", "v")`` is what traffic writes for a put, so a
typed call is recorded and checked exactly as a raw dict is.

Defaults are etcd's, and optional fields that traffic leaves out unless set (sorting,
revision bounds, ``ignore_lease``, a compare's ``range_end``) are left out here too, so
one request has one spelling in every history. Every builder checks its request against
the model's schema: a request the model would refuse fails where it is written, with
nothing sent or recorded, instead of as a bad history when the test ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import msgspec

from harness.client.convert import InvalidOperation
from models.etcd.schema import SCHEMAS, SortTarget, WatchRequest
from models.etcd.state import ALL_KEYS
from models.operation import Request

SortOrder = Literal["none", "ascend", "descend"]


def prefix_end(prefix: str) -> str:
    """The range_end covering every key that starts with ``prefix`` (clientv3's
    ``GetPrefixRangeEnd``); UTF-8 keeps code point order, so the string form is exact."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else ALL_KEYS


def key_range(
    key: str, range_end: str | None = None, *, prefix: bool = False, from_key: bool = False
) -> tuple[str, str | None]:
    """(key, range_end) for etcd's three ways of naming many keys. etcd refuses an empty
    key, so the empty prefix (or from-key) starts at ``"\\0"``, as clientv3 does."""
    if (range_end is not None) + prefix + from_key > 1:
        raise InvalidOperation("give at most one of range_end, prefix and from_key")
    if prefix or from_key:
        return key or ALL_KEYS, prefix_end(key) if prefix else ALL_KEYS
    return key, range_end


def checked(request: Request) -> Request:
    """``request`` itself, once the etcd model's schema accepts it."""
    kind = request.get("kind")
    schema = SCHEMAS.get(kind) if isinstance(kind, str) else None
    if schema is None:
        raise InvalidOperation(f"{kind!r} is not a request of the etcd model (it knows: {sorted(SCHEMAS)})")
    _convert(request, schema.input, kind)
    return request


def checked_watch(request: dict[str, Any]) -> dict[str, Any]:
    _convert(request, WatchRequest, "watch")
    return request


def _convert(request: Any, schema: Any, kind: Any) -> None:
    try:
        msgspec.convert(request, schema)
    except msgspec.ValidationError as exc:
        raise InvalidOperation(f"{kind} request {request!r} does not fit the etcd model: {exc}") from None


def put(
    key: str, value: str, *, lease: int = 0, prev_kv: bool = False, ignore_lease: bool = False
) -> Request:
    req: Request = {"kind": "put", "key": key, "value": value, "lease": lease, "prev_kv": prev_kv}
    if ignore_lease:
        req["ignore_lease"] = True
    return checked(req)


def get(
    key: str,
    *,
    revision: int = 0,
    serializable: bool = False,
    keys_only: bool = False,
    count_only: bool = False,
) -> Request:
    """One key: a range without a range_end, as clientv3's Get is."""
    return range(
        key, revision=revision, serializable=serializable, keys_only=keys_only, count_only=count_only
    )


def range(
    key: str,
    range_end: str | None = None,
    *,
    prefix: bool = False,
    from_key: bool = False,
    limit: int = 0,
    revision: int = 0,
    keys_only: bool = False,
    count_only: bool = False,
    serializable: bool = False,
    sort_order: SortOrder = "none",
    sort_target: SortTarget = "key",
    min_mod_revision: int = 0,
    max_mod_revision: int = 0,
    min_create_revision: int = 0,
    max_create_revision: int = 0,
) -> Request:
    key, range_end = key_range(key, range_end, prefix=prefix, from_key=from_key)
    req: Request = {
        "kind": "range",
        "key": key,
        "range_end": range_end,
        "revision": revision,
        "limit": limit,
        "keys_only": keys_only,
        "count_only": count_only,
        "serializable": serializable,
    }
    optional = {
        "sort_order": (sort_order, "none"),
        "sort_target": (sort_target, "key"),
        "min_mod_revision": (min_mod_revision, 0),
        "max_mod_revision": (max_mod_revision, 0),
        "min_create_revision": (min_create_revision, 0),
        "max_create_revision": (max_create_revision, 0),
    }
    req.update({name: given for name, (given, default) in optional.items() if given != default})
    return checked(req)


def delete(
    key: str,
    range_end: str | None = None,
    *,
    prefix: bool = False,
    from_key: bool = False,
    prev_kv: bool = False,
) -> Request:
    key, range_end = key_range(key, range_end, prefix=prefix, from_key=from_key)
    return checked({"kind": "delete", "key": key, "range_end": range_end, "prev_kv": prev_kv})


def txn(
    compare: Iterable[dict[str, Any]] = (), then: Iterable[Request] = (), otherwise: Iterable[Request] = ()
) -> Request:
    """If every compare holds, ``then`` runs, else ``otherwise`` (etcd's success and
    failure branches: ranges, puts, deletes and txns built here)."""
    return checked(
        {"kind": "txn", "compare": list(compare), "success": list(then), "failure": list(otherwise)}
    )


def lease_grant(ttl: int, id: int) -> Request:
    """The model must know a lease's id before etcd answers, so the client picks it
    (non-zero); :meth:`RecordingClient.lease_grant` picks one when asked for none."""
    if not id:
        raise InvalidOperation("lease_grant needs a non-zero id chosen by the client")
    return checked({"kind": "lease_grant", "id": id, "ttl": ttl})


def lease_revoke(id: int) -> Request:
    return checked({"kind": "lease_revoke", "id": id})


def lease_keepalive(id: int) -> Request:
    """One renewal (clientv3's KeepAliveOnce)."""
    return checked({"kind": "lease_keepalive", "id": id})


def lease_timetolive(id: int, *, keys: bool = False) -> Request:
    return checked({"kind": "lease_timetolive", "id": id, "keys": keys})


def compact(revision: int, *, physical: bool = False) -> Request:
    return checked({"kind": "compact", "revision": revision, "physical": physical})


def defragment() -> Request:
    return checked({"kind": "defragment"})
