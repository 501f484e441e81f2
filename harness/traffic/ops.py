"""Concrete etcd operations from plan templates and what a client has seen so far.

A template fixes the kind of request and its key; what cannot be known before the run
(the mod_revision to compare against, a revision to compact to, the next page of a list)
comes from the client's own earlier responses. Values are unique per run, which lets
the checker tell writes apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.traffic.plan import OpTemplate, key_name, key_prefix
from models.operation import Request

#: Lease TTL of named scenarios: far longer than any run, so that no lease expires
#: during one. Exploration also draws TTLs of seconds: the checks then allow an expiry
#: (models/etcd/synthetic.py) at any time after the TTL may have run out.
LEASE_TTL = 7200


def prefix_end(prefix: str) -> str:
    """The range_end covering every key that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def range_op(key: str, range_end: str | None = None, **kw: Any) -> Request:
    op: Request = {
        "kind": "range",
        "key": key,
        "range_end": range_end,
        "revision": 0,
        "limit": 0,
        "keys_only": False,
        "count_only": False,
        "serializable": False,
    }
    op.update(kw)
    return op


def put_op(key: str, value: str, lease: int = 0, prev_kv: bool = False) -> Request:
    return {"kind": "put", "key": key, "value": value, "lease": lease, "prev_kv": prev_kv}


def delete_op(key: str, range_end: str | None = None, prev_kv: bool = False) -> Request:
    return {"kind": "delete", "key": key, "range_end": range_end, "prev_kv": prev_kv}


def txn_op(compare: list[dict[str, Any]], success: list[Request], failure: list[Request]) -> Request:
    return {"kind": "txn", "compare": compare, "success": success, "failure": failure}


@dataclass
class ClientState:
    """What one client learned from its own responses."""

    client: int
    mod_revision: dict[str, int] = field(default_factory=dict)
    revision: int = 0
    lease: int = 0
    #: The lease this client held before, revoked or expired: a TimeToLive of it must
    #: find it gone.
    old_lease: int = 0
    leases_granted: int = 0
    page: tuple[str, int] | None = None  # next key and revision of a paginated list
    #: The key of the last optimistic update that lost its compare: the apiserver's
    #: GuaranteedUpdate retries it with the revision the failure branch read.
    conflict: str | None = None

    def learn(self, op: Request, output: Any) -> None:
        if not isinstance(output, dict) or "error" in output:
            if isinstance(output, dict) and output.get("error") == "compacted":
                self.page = None
            return
        header = output.get("header") or {}
        self.revision = max(self.revision, int(header.get("revision") or 0))
        kind = op["kind"]
        if kind == "range":
            for kv in output.get("kvs") or ():
                self.mod_revision[kv["key"]] = kv["mod_revision"]
            if op.get("range_end") is None and not output.get("kvs"):
                self.mod_revision[op["key"]] = 0
        elif kind == "put":
            self.mod_revision[op["key"]] = int(header.get("revision") or 0)
        elif kind == "delete" and op.get("range_end") is None:
            self.mod_revision[op["key"]] = 0
        elif kind == "txn":
            branch = op["success"] if output.get("succeeded") else op["failure"]
            for sub, res in zip(branch, output.get("responses") or (), strict=False):
                self.learn(sub, {**res, "header": header})


def build(
    profile: str,
    keyspace: int,
    t: OpTemplate,
    st: ClientState,
    seq: int,
    rnd: int,
    lease_ttl: int = LEASE_TTL,
    value_kb: int = 0,
) -> Request:
    """The operation for template ``t`` as the ``seq``-th request of a client.

    ``rnd`` (stable per request, see :func:`harness.traffic.plan.op_random`) shifts the
    template's key, so a short program still spreads over the whole key space.
    """
    key = key_name(profile, (t.key + rnd) % keyspace)
    value = f"c{st.client}-{seq}"
    if value_kb and seq % 32 == 0:
        value += "." * (value_kb * 1024)
    kind = t.kind
    if kind == "get":
        return range_op(key)
    if kind == "get-serializable":
        return range_op(key, serializable=True)
    if kind == "range-prefix":
        p = key_prefix(profile)
        return range_op(p, prefix_end(p), limit=t.arg % 8)
    if kind == "put":
        return put_op(key, value, prev_kv=t.arg % 2 == 0)
    if kind == "delete":
        return delete_op(key, prev_kv=t.arg % 2 == 0)
    if kind == "txn":
        other = key_name(profile, (t.key + rnd + 1 + t.arg) % keyspace)
        target = ("value", "version", "create", "mod")[t.arg % 4]
        cmp_value: Any = value if target == "value" else (t.arg % 3)
        result = ("=", "!=", "<", ">")[(t.arg // 4) % 4]
        return txn_op(
            [{"key": key, "target": target, "result": result, "value": cmp_value}],
            [put_op(key, value), range_op(other)],
            [range_op(key), put_op(other, value + "f")],
        )
    if kind in EXTENDED:
        return _extended(profile, keyspace, t, st, key, value, rnd)
    if kind == "k8s-update" and st.conflict is not None:
        key, st.conflict = st.conflict, None
    if kind in ("cas", "k8s-update", "k8s-create", "k8s-delete"):
        rev = 0 if kind == "k8s-create" else st.mod_revision.get(key, 0)
        action = delete_op(key) if kind == "k8s-delete" else put_op(key, value)
        return txn_op([{"key": key, "target": "mod", "result": "=", "value": rev}], [action], [range_op(key)])
    if kind == "k8s-get":
        return range_op(key)
    if kind == "k8s-list":
        p = key_prefix(profile)
        limit = 1 + t.arg % 8
        if st.page is not None:
            start, rev = st.page
            return range_op(start, prefix_end(p), limit=limit, revision=rev)
        return range_op(p, prefix_end(p), limit=limit)
    if kind in LEASE_KINDS:
        return _lease_op(kind, st, key, value, lease_ttl)
    if kind in SHAPED:
        return _shaped(profile, t, st, key, value)
    if kind == "compact":
        rev = st.revision - 200
        if rev <= 1:
            return range_op(key)
        return {"kind": "compact", "revision": rev, "physical": False}
    raise ValueError(f"unknown template kind {kind!r}")


#: Kinds no named scenario uses: revision-pinned and counting reads, range deletes,
#: multi-key and nested txns, lease compares, lease renewals. Exploration draws them.
EXTENDED = ("range-at", "range-count", "range-keys", "delete-range", "txn-multi", "txn-lease")
RENEWALS = ("lease-keepalive",)
#: Reads of what the leader's lessor holds (TTL, keys).
LOOKUPS = ("lease-ttl",)
#: Sorted and revision-filtered ranges, puts that keep the key's lease.
SHAPED = ("range-sorted", "put-keep-lease")


LEASE_KINDS = frozenset({"lease-put", "lease-revoke", "lease-keepalive", "lease-ttl"})


def _lease_op(kind: str, st: ClientState, key: str, value: str, lease_ttl: int) -> Request:
    """A request on the client's lease (granted first), or a plain read while it has
    none; a TimeToLive also asks after the lease it held before."""
    if kind == "lease-put":
        if st.lease == 0:
            st.leases_granted += 1
            return {"kind": "lease_grant", "id": (st.client + 1) << 20 | st.leases_granted, "ttl": lease_ttl}
        return put_op(key, value, lease=st.lease)
    lease = st.lease or (st.old_lease if kind == "lease-ttl" else 0)
    if lease == 0:
        return range_op(key)
    if kind == "lease-revoke":
        return {"kind": "lease_revoke", "id": lease}
    if kind == "lease-keepalive":
        return {"kind": "lease_keepalive", "id": lease}
    return {"kind": "lease_timetolive", "id": lease, "keys": True}


def _extended(
    profile: str, keyspace: int, t: OpTemplate, st: ClientState, key: str, value: str, rnd: int
) -> Request:
    p = key_prefix(profile)
    index = (t.key + rnd) % keyspace
    other = key_name(profile, (index + 1 + t.arg % max(1, keyspace - 1)) % keyspace)
    if t.kind == "range-at":
        # Recent revisions, the first one (compacted once anything was), and a future one.
        rev = {7: st.revision + 1000, 6: 1}.get(t.arg % 8, max(1, st.revision - (t.arg % 8) * 5))
        if t.arg % 2:
            return range_op(key, revision=rev)
        return range_op(p, prefix_end(p), revision=rev, limit=t.arg % 5)
    if t.kind == "range-count":
        return range_op(p, prefix_end(p), count_only=True)
    if t.kind == "range-keys":
        return range_op(p, prefix_end(p), keys_only=True, limit=t.arg % 6)
    if t.kind == "delete-range":
        return delete_op(key, key_name(profile, min(index + 1 + t.arg % 3, keyspace)), prev_kv=t.arg % 2 == 0)
    if t.kind == "txn-multi":
        compare: list[dict[str, Any]] = [
            {"key": key, "target": "version", "result": (">", "<")[t.arg % 2], "value": t.arg % 4},
            {"key": p, "range_end": prefix_end(p), "target": "mod", "result": "<", "value": st.revision + 1},
        ]
        nested = txn_op(
            [{"key": key, "target": "lease", "result": "=", "value": 0}],
            [put_op(key, value + "n", prev_kv=True)],
            [range_op(key, keys_only=True)],
        )
        return txn_op(
            compare,
            [put_op(key, value), delete_op(other, prev_kv=True), range_op(p, prefix_end(p), count_only=True)],
            [nested, range_op(other)],
        )
    # txn-lease: keep a key under the client's lease, or read it.
    return txn_op(
        [{"key": key, "target": "lease", "result": ("=", "!=")[t.arg % 2], "value": st.lease}],
        [put_op(key, value, lease=st.lease)],
        [range_op(key)],
    )


_SORT_TARGETS = ("key", "version", "create", "mod", "value")
_SORT_ORDERS = ("none", "ascend", "descend")
_BOUNDS = (None, "min_mod_revision", "max_mod_revision", "min_create_revision", "max_create_revision")


def _shaped(profile: str, t: OpTemplate, st: ClientState, key: str, value: str) -> Request:
    if t.kind == "put-keep-lease":
        return {"kind": "put", "key": key, "value": value, "lease": 0, "prev_kv": True, "ignore_lease": True}
    p = key_prefix(profile)
    target = _SORT_TARGETS[t.arg % 5]
    kw: dict[str, Any] = {"sort_target": target, "sort_order": _SORT_ORDERS[(t.arg // 5) % 3]}
    if target == "key":
        kw["limit"] = t.arg % 4
    bound = _BOUNDS[(t.arg // 3) % 5]
    if bound is not None:
        kw[bound] = max(1, st.revision - 10 * (1 + t.arg % 4))
    return range_op(p, prefix_end(p), keys_only=t.arg % 7 == 0, **kw)


def after(op: Request, status: str, output: Any, st: ClientState) -> None:
    """Update the client's knowledge after a call (leases, list pages)."""
    kind = op["kind"]
    if kind == "lease_grant":
        # An unknown grant may exist or not: don't rely on it, grant another next time.
        st.lease = op["id"] if status == "ok" and isinstance(output, dict) and "error" not in output else 0
    elif (
        kind == "lease_revoke"
        or kind in ("put", "lease_keepalive", "lease_timetolive")
        and isinstance(output, dict)
        and output.get("error") == "lease_not_found"
    ):
        st.old_lease, st.lease = st.lease or st.old_lease, 0
    if status == "ok":
        st.learn(op, output)
        if kind == "txn" and isinstance(output, dict) and output.get("succeeded") is False:
            cmp = op["compare"]
            if len(cmp) == 1 and cmp[0]["target"] == "mod" and cmp[0]["key"] in st.mod_revision:
                st.conflict = cmp[0]["key"]
    if (
        kind == "range"
        and op.get("limit")
        and op.get("range_end")
        and status == "ok"
        and isinstance(output, dict)
    ):
        kvs = output.get("kvs") or []
        if output.get("more") and kvs:
            rev = op.get("revision") or int((output.get("header") or {}).get("revision") or 0)
            st.page = (kvs[-1]["key"] + "\x00", rev)
        else:
            st.page = None
    elif kind == "range" and op.get("revision") and status != "ok":
        st.page = None
