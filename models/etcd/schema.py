"""The etcd operations and watch messages the model understands (docs/history-format.md).

Every field the request logic in :mod:`models.etcd.requests` reads is typed here, so a
history that passes this schema cannot make the checkers fail on its shape. Requests
are exactly the options the model checks: an option it does not know (``ignore_value``,
a watch ``fragment``) changes what etcd answers, so it is rejected rather than ignored.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from models.schema import Int64, NonNegative, OpSchema, SchemaError

#: Deepest txn nesting accepted; the request logic recurses once per level.
MAX_TXN_DEPTH = 32

_REQ = {"tag_field": "kind", "forbid_unknown_fields": True}


SortTarget = Literal["key", "version", "create", "mod", "value"]


class Range(msgspec.Struct, tag="range", **_REQ):  # type: ignore[call-arg]
    key: str
    range_end: str | None = None
    revision: NonNegative = 0
    limit: NonNegative = 0
    keys_only: bool = False
    count_only: bool = False
    serializable: bool = False
    sort_order: Literal["none", "ascend", "descend"] = "none"
    sort_target: SortTarget = "key"
    min_mod_revision: NonNegative = 0
    max_mod_revision: NonNegative = 0
    min_create_revision: NonNegative = 0
    max_create_revision: NonNegative = 0

    def __post_init__(self) -> None:
        if self.limit and self.sort_target != "key":
            # Keys that tie on the target may come in any order: which ones a limit keeps
            # is not defined.
            raise ValueError("a range sorted by anything but the key cannot have a limit")


class Put(msgspec.Struct, tag="put", **_REQ):  # type: ignore[call-arg]
    key: str
    value: str
    lease: Int64 = 0
    prev_kv: bool = False
    #: Keep the key's current lease (etcd refuses a lease with it, and a missing key).
    ignore_lease: bool = False

    def __post_init__(self) -> None:
        if self.ignore_lease and self.lease:
            raise ValueError("ignore_lease with a lease")


class Delete(msgspec.Struct, tag="delete", **_REQ):  # type: ignore[call-arg]
    key: str
    range_end: str | None = None
    prev_kv: bool = False


class Compare(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    range_end: str | None = None
    target: Literal["value", "version", "create", "mod", "lease", "create_revision", "mod_revision"] = "value"
    result: Literal["=", "==", "!=", "<", ">"] = "="
    value: str | Int64 | None = None

    def __post_init__(self) -> None:
        if self.target == "value" and not isinstance(self.value, str):
            raise ValueError("a compare on the value needs a string `value`")
        if self.target != "value" and isinstance(self.value, str):
            raise ValueError(f"a compare on {self.target} needs an integer `value`")


class Txn(msgspec.Struct, tag="txn", **_REQ):  # type: ignore[call-arg]
    compare: list[Compare] = []
    success: list[Range | Put | Delete | Txn] = []
    failure: list[Range | Put | Delete | Txn] = []

    def __post_init__(self) -> None:
        if _depth(self) > MAX_TXN_DEPTH:
            raise ValueError(f"txns nested more than {MAX_TXN_DEPTH} deep")


def _depth(txn: Txn) -> int:
    inner = [s for s in (*txn.success, *txn.failure) if isinstance(s, Txn)]
    return 1 + max((_depth(t) for t in inner), default=0)


class LeaseGrant(msgspec.Struct, tag="lease_grant", **_REQ):  # type: ignore[call-arg]
    id: Int64
    ttl: Int64 | None = None


class LeaseRevoke(msgspec.Struct, tag="lease_revoke", **_REQ):  # type: ignore[call-arg]
    id: Int64


class LeaseKeepAlive(msgspec.Struct, tag="lease_keepalive", **_REQ):  # type: ignore[call-arg]
    """One renewal: etcd answers a lease it does not hold with a TTL of 0, recorded as
    ``lease_not_found``."""

    id: Int64


class LeaseTimeToLive(msgspec.Struct, tag="lease_timetolive", **_REQ):  # type: ignore[call-arg]
    """What the leader's lessor holds for a lease, read without a raft round (so checked
    with slack, in models/etcd/revisions/lease_lookups.py); TTL -1 is ``lease_not_found``."""

    id: Int64
    keys: bool = False


class Compact(msgspec.Struct, tag="compact", **_REQ):  # type: ignore[call-arg]
    revision: NonNegative
    physical: bool = False


class Defragment(msgspec.Struct, tag="defragment", **_REQ):  # type: ignore[call-arg]
    pass


# -- responses ------------------------------------------------------------------------


class Header(msgspec.Struct):
    revision: Int64
    member_id: int = 0
    raft_term: int = 0


class KV(msgspec.Struct):
    key: str
    mod_revision: Int64
    value: str = ""
    create_revision: Int64 = 0
    version: Int64 = 0
    lease: Int64 = 0


class ModelError(msgspec.Struct, forbid_unknown_fields=True):
    """A definite etcd error the model predicts (recorded with status ``ok``)."""

    error: Literal["compacted", "future_revision", "lease_not_found"]


class RangeOut(msgspec.Struct):
    header: Header
    kvs: list[KV] = []
    more: bool = False
    count: NonNegative = 0


class PutOut(msgspec.Struct):
    header: Header
    prev_kv: KV | None = None


class DeleteOut(msgspec.Struct):
    header: Header
    deleted: NonNegative = 0
    prev_kvs: list[KV] = []


_SUB = {"tag_field": "kind"}


class RangeSub(msgspec.Struct, tag="range", **_SUB):  # type: ignore[call-arg]
    """A response inside a txn: its header, if any, is not checked."""

    header: Header | None = None
    kvs: list[KV] = []
    more: bool = False
    count: NonNegative = 0


class PutSub(msgspec.Struct, tag="put", **_SUB):  # type: ignore[call-arg]
    header: Header | None = None
    prev_kv: KV | None = None


class DeleteSub(msgspec.Struct, tag="delete", **_SUB):  # type: ignore[call-arg]
    header: Header | None = None
    deleted: NonNegative = 0
    prev_kvs: list[KV] = []


class TxnSub(msgspec.Struct, tag="txn", **_SUB):  # type: ignore[call-arg]
    header: Header | None = None
    succeeded: bool = False
    responses: list[RangeSub | PutSub | DeleteSub | TxnSub] = []


class TxnOut(msgspec.Struct):
    header: Header
    succeeded: bool = False
    responses: list[RangeSub | PutSub | DeleteSub | TxnSub] = []


class LeaseGrantOut(msgspec.Struct):
    header: Header
    id: Int64 = 0
    ttl: Int64 | None = None


class LeaseKeepAliveOut(msgspec.Struct):
    header: Header | None = None
    id: Int64 = 0
    ttl: Int64 = 0


class LeaseTimeToLiveOut(msgspec.Struct):
    header: Header | None = None
    id: Int64 = 0
    ttl: Int64 = 0
    granted_ttl: Int64 = 0
    keys: list[str] = []


class HeaderOnly(msgspec.Struct):
    header: Header


SCHEMAS: dict[str, OpSchema] = {
    "range": OpSchema(Range, RangeOut, ModelError),
    "put": OpSchema(Put, PutOut, ModelError),
    "delete": OpSchema(Delete, DeleteOut, ModelError),
    "txn": OpSchema(Txn, TxnOut, ModelError),
    "lease_grant": OpSchema(LeaseGrant, LeaseGrantOut, ModelError),
    "lease_revoke": OpSchema(LeaseRevoke, HeaderOnly, ModelError),
    "lease_keepalive": OpSchema(LeaseKeepAlive, LeaseKeepAliveOut, ModelError),
    "lease_timetolive": OpSchema(LeaseTimeToLive, LeaseTimeToLiveOut, ModelError),
    "compact": OpSchema(Compact, HeaderOnly, ModelError),
    "defragment": OpSchema(Defragment, HeaderOnly, ModelError),
}


#: Every operation kind of the etcd model.
KINDS = frozenset(SCHEMAS)


# -- watch messages ---------------------------------------------------------------------


class WatchRequest(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    range_end: str | None = None
    start_revision: NonNegative = 0
    prev_kv: bool = False
    progress_notify: bool = False
    #: Event types etcd leaves out of the stream.
    filters: list[Literal["noput", "nodelete"]] = []
    #: Responses over etcd's --max-request-bytes may come in fragments (joined by the client).
    fragment: bool = False


class WatchEvent(msgspec.Struct):
    type: Literal["PUT", "DELETE"]
    kv: KV
    prev_kv: KV | None = None


class WatchMessage(msgspec.Struct):
    """The parts of a watch record the checks read (the record's own fields are typed
    by the history format)."""

    request: WatchRequest | None = None
    header: Header | None = None
    events: list[WatchEvent] = []


def validate_watch_message(record: object) -> None:
    """Raise SchemaError unless a watch record's request, header and events are readable."""
    try:
        msgspec.convert(record, WatchMessage, from_attributes=True)
    except msgspec.ValidationError as exc:
        text = str(exc).replace("`$", "`watch")
        raise SchemaError(f"watch {getattr(record, 'watch', '?')}: {text}") from None
