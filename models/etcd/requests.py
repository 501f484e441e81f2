"""etcd's request semantics: one request applied to a :class:`View` gives the response etcd
would send and the changes it would commit.

Pure functions over the read interface, shared by the generic model, the fast checker
and the simulator (tests/common), so the three cannot disagree on what etcd does. The rules follow
etcd's server (``server/etcdserver/txn`` and ``mvcc``), as summarised in
``docs/etcd-model.md``; the ones that are easy to get wrong:

* a request that changes nothing does not move the revision (delete of nothing, a txn
  whose branch only reads or deletes nothing, revoking a lease without keys, lease
  grant, compact, defragment); every put moves it, even to the same value;
* all writes of one txn share one new revision, and reads later in the txn see them;
* ``count`` is the number of keys in range whatever ``limit`` says; ``more`` is true
  when ``limit`` cut the result; ``count_only`` returns no kvs (and ``more`` false);
* a range at a revision below the compact revision fails ``compacted``, above the
  current one ``future_revision``; compacting at or below the compact revision fails
  ``compacted``, above the current revision ``future_revision``;
* a compare on a missing key uses a zero kv, except a ``value`` compare, which fails;
* a txn fails as a whole (``lease_not_found``, ``compacted``...) when a request in the
  branch it takes would.

Responses are the history format's ``output`` dicts; :func:`canonical` reduces a
response to what etcd guarantees so that predicted and observed ones compare with ``==``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.etcd.state import KV, View, in_range, kv_from_dict, kv_to_dict

WRITE_KINDS = frozenset({"put", "delete", "txn", "lease_revoke"})


@dataclass
class Result:
    """What a request did: the response and the state changes it commits.

    ``changes`` are the kv changes (``None`` is a deletion) at revision
    ``view.revision + 1``; empty means the revision does not move.
    """

    output: dict[str, Any]
    changes: list[tuple[str, KV | None]] = field(default_factory=list)
    grant: int | None = None
    revoke: int | None = None
    compact: int | None = None

    @property
    def error(self) -> str | None:
        return self.output.get("error")


class _Error(Exception):
    def __init__(self, name: str):
        self.name = name


def _header(rev: int) -> dict[str, int]:
    return {"revision": rev}


class _Overlay:
    """A view plus the uncommitted writes of the txn being applied."""

    def __init__(self, base: View) -> None:
        self.base = base
        self.pending: dict[str, KV | None] = {}

    @property
    def revision(self) -> int:
        return self.base.revision

    @property
    def compact_revision(self) -> int:
        return self.base.compact_revision

    def get(self, key: str, rev: int) -> KV | None:
        if rev <= 0 and key in self.pending:
            return self.pending[key]
        return self.base.get(key, rev)

    def range(self, start: str, end: str | None, rev: int) -> list[KV]:
        kvs = self.base.range(start, end, rev)
        if rev > 0 or not self.pending:
            return kvs
        merged = {kv.key: kv for kv in kvs}
        for key, kv in self.pending.items():
            if in_range(key, start, end):
                if kv is None:
                    merged.pop(key, None)
                else:
                    merged[key] = kv
        return [merged[k] for k in sorted(merged)]

    def lease_exists(self, lease: int) -> bool:
        return self.base.lease_exists(lease)

    def lease_keys(self, lease: int) -> list[str]:
        return self.base.lease_keys(lease)


def apply(view: View, req: dict[str, Any]) -> Result:
    """Apply one request (an ``input`` of the history format) to ``view``."""
    kind = req.get("kind")
    try:
        if kind == "range":
            return Result(_range(view, req, view.revision))
        if kind in ("put", "delete", "txn"):
            if kind == "txn" and _duplicate_keys(req):
                raise _Error("duplicate_key")
            ov = _Overlay(view)
            out = _write(ov, req, view.revision + 1, top=True)
            changes = list(ov.pending.items())
            out["header"] = _header(view.revision + (1 if changes else 0))
            return Result(out, changes)
        if kind in _LEASE_KINDS:
            return _lease(view, kind, int(req["id"]), bool(req.get("keys")), req.get("ttl"))
        if kind == "compact":
            rev = int(req["revision"])
            if rev <= view.compact_revision:
                raise _Error("compacted")
            if rev > view.revision:
                raise _Error("future_revision")
            return Result({"header": _header(view.revision)}, compact=rev)
        if kind == "defragment":
            return Result({"header": _header(view.revision)})
    except _Error as e:
        return Result({"error": e.name})
    raise ValueError(f"unknown etcd request kind {kind!r}")


_LEASE_KINDS = frozenset({"lease_grant", "lease_revoke", "lease_keepalive", "lease_timetolive"})


def _lease(view: View, kind: str, lease: int, keys: bool, ttl: Any) -> Result:
    if kind == "lease_grant":
        if view.lease_exists(lease):
            raise _Error("lease_exists")
        return Result({"header": _header(view.revision), "id": lease, "ttl": ttl}, grant=lease)
    if not view.lease_exists(lease):
        raise _Error("lease_not_found")
    if kind == "lease_revoke":
        deleted: list[tuple[str, KV | None]] = [(k, None) for k in view.lease_keys(lease)]
        return Result({"header": _header(view.revision + (1 if deleted else 0))}, deleted, revoke=lease)
    out: dict[str, Any] = {"header": _header(view.revision), "id": lease}
    if kind == "lease_timetolive":
        out["keys"] = sorted(view.lease_keys(lease)) if keys else []
    return Result(out)


def _duplicate_keys(txn: dict[str, Any]) -> bool:
    """etcd rejects (InvalidArgument, so never applied) a txn whose branch writes one key
    twice: two puts, or a put inside a delete's range, nested txns included."""

    def writes(branch: list[dict[str, Any]]) -> tuple[list[str], list[tuple[str, str | None]]] | None:
        puts: list[str] = []
        dels: list[tuple[str, str | None]] = []
        for sub in branch:
            kind = sub.get("kind")
            if kind == "put":
                puts.append(sub["key"])
            elif kind == "delete":
                dels.append((sub["key"], sub.get("range_end")))
            elif kind == "txn":
                a, b = writes(sub.get("success") or []), writes(sub.get("failure") or [])
                if a is None or b is None:
                    return None
                puts.extend(set(a[0]) | set(b[0]))
                dels.extend(a[1] + b[1])
        if len(set(puts)) != len(puts):
            return None
        if any(in_range(k, s, e) for k in puts for s, e in dels):
            return None
        return puts, dels

    return any(writes(txn.get(b) or []) is None for b in ("success", "failure"))


def _range(view: View, req: dict[str, Any], header_rev: int) -> dict[str, Any]:
    rev = int(req.get("revision") or 0)
    if rev > view.revision:
        raise _Error("future_revision")
    if 0 < rev < view.compact_revision:
        raise _Error("compacted")
    kvs = view.range(req["key"], req.get("range_end"), rev)
    count = len(kvs)
    limit = int(req.get("limit") or 0)
    more = False
    if req.get("count_only"):
        kvs = []
    else:
        kvs = _sorted(_filtered(kvs, req), req)
        if limit > 0 and len(kvs) > limit:
            kvs = kvs[:limit]
            more = True
    if req.get("keys_only"):
        kvs = [kv._replace(value="") for kv in kvs]
    return {
        "header": _header(header_rev),
        "kvs": [kv_to_dict(kv) for kv in kvs],
        "more": more,
        "count": count,
    }


_FILTERS = (
    ("min_mod_revision", lambda kv, r: kv.mod_revision >= r),
    ("max_mod_revision", lambda kv, r: kv.mod_revision <= r),
    ("min_create_revision", lambda kv, r: kv.create_revision >= r),
    ("max_create_revision", lambda kv, r: kv.create_revision <= r),
)


def _filtered(kvs: list[KV], req: dict[str, Any]) -> list[KV]:
    """etcd prunes by mod and create revision after counting: ``count`` is unfiltered."""
    for name, keep in _FILTERS:
        bound = int(req.get(name) or 0)
        if bound:
            kvs = [kv for kv in kvs if keep(kv, bound)]
    return kvs


def sort_key(target: str) -> Any:
    return _TARGETS[target] if target != "key" else (lambda kv: kv.key)


def _sorted(kvs: list[KV], req: dict[str, Any]) -> list[KV]:
    """etcd sorts ascending by default on any target but the key (kvs come in key order);
    ties keep key order here, and :func:`canonical` accepts any order among them."""
    target = req.get("sort_target") or "key"
    order = req.get("sort_order") or "none"
    if order == "none" and target != "key":
        order = "ascend"
    if order == "none" or (order == "ascend" and target == "key"):
        return kvs
    return sorted(kvs, key=sort_key(target), reverse=order == "descend")


def _write(ov: _Overlay, req: dict[str, Any], new_rev: int, *, top: bool = False) -> dict[str, Any]:
    kind = req.get("kind")
    if kind == "range":
        out = _range(ov, req, ov.revision)
        out.pop("header")
        return out
    if kind == "put":
        key = req["key"]
        lease = int(req.get("lease") or 0)
        if lease and not ov.lease_exists(lease):
            raise _Error("lease_not_found")
        prev = ov.get(key, 0)
        if req.get("ignore_lease"):
            if prev is None:
                raise _Error("key_not_found")
            lease = prev.lease
        kv = KV(
            key,
            str(req.get("value", "")),
            prev.create_revision if prev else new_rev,
            new_rev,
            prev.version + 1 if prev else 1,
            lease,
        )
        ov.pending[key] = kv
        return {"prev_kv": kv_to_dict(prev) if req.get("prev_kv") else None}
    if kind == "delete":
        kvs = ov.range(req["key"], req.get("range_end"), 0)
        for kv in kvs:
            ov.pending[kv.key] = None
        return {
            "deleted": len(kvs),
            "prev_kvs": [kv_to_dict(kv) for kv in kvs] if req.get("prev_kv") else [],
        }
    if kind == "txn":
        ok = all(_compare(ov, c) for c in req.get("compare") or [])
        branch = req.get("success" if ok else "failure") or []
        responses = []
        for sub in branch:
            out = _write(ov, sub, new_rev)
            out["kind"] = sub.get("kind")
            responses.append(out)
        return {"succeeded": ok, "responses": responses}
    raise ValueError(f"request kind {kind!r} not allowed in a txn")


_TARGETS = {
    "value": lambda kv: kv.value,
    "version": lambda kv: kv.version,
    "create": lambda kv: kv.create_revision,
    "create_revision": lambda kv: kv.create_revision,
    "mod": lambda kv: kv.mod_revision,
    "mod_revision": lambda kv: kv.mod_revision,
    "lease": lambda kv: kv.lease,
}


def _compare(view: View, c: dict[str, Any]) -> bool:
    target = c.get("target", "value")
    kvs = view.range(c["key"], c.get("range_end"), 0)
    if not kvs:
        if target == "value":
            return False
        kvs = [KV(c["key"], "", 0, 0, 0, 0)]
    want = c.get("value")
    want = str(want) if target == "value" else int(want or 0)
    get = _TARGETS[target]
    op = c.get("result", "=")
    for kv in kvs:
        have = get(kv)
        if op in ("=", "=="):
            ok = have == want
        elif op == "!=":
            ok = have != want
        elif op == "<":
            ok = have < want
        elif op == ">":
            ok = have > want
        else:
            raise ValueError(f"unknown compare result {op!r}")
        if not ok:
            return False
    return True


# -- comparing responses ----------------------------------------------------------------


def _ckv(d: Any, keys_only: bool = False) -> KV | None:
    kv = kv_from_dict(d)
    if kv is not None and keys_only:
        kv = kv._replace(value="")
    return kv


def _rev(output: dict[str, Any]) -> int | None:
    h = output.get("header")
    return int(h["revision"]) if h and h.get("revision") is not None else None


def canonical(req: dict[str, Any], output: Any, *, sub: bool = False) -> tuple[Any, ...]:
    """What etcd guarantees about ``output``, as a comparable tuple.

    Member id and raft term are left out, and so are the headers of responses inside a
    txn (only the txn's own header is defined).
    """
    if not isinstance(output, dict):
        return ("invalid", repr(output))
    if output.get("error"):
        return ("error", output["error"])
    kind = req.get("kind")
    rev = None if sub else _rev(output)
    if kind == "range":
        keys_only = bool(req.get("keys_only"))
        kvs = () if req.get("count_only") else tuple(_ckv(d, keys_only) for d in output.get("kvs") or [])
        return ("range", rev, *_order_free(req, kvs), bool(output.get("more")), int(output.get("count") or 0))
    if kind == "put":
        prev = _ckv(output.get("prev_kv")) if req.get("prev_kv") else None
        return ("put", rev, prev)
    if kind == "delete":
        prevs = tuple(_ckv(d) for d in output.get("prev_kvs") or []) if req.get("prev_kv") else ()
        return ("delete", rev, int(output.get("deleted") or 0), prevs)
    if kind == "txn":
        ok = bool(output.get("succeeded"))
        branch = req.get("success" if ok else "failure") or []
        resps = output.get("responses") or []
        if len(resps) != len(branch):
            return ("txn", rev, ok, ("responses", len(resps)))
        return ("txn", rev, ok, tuple(canonical(b, r, sub=True) for b, r in zip(branch, resps, strict=True)))
    if kind == "lease_grant":
        return ("lease_grant", rev, output.get("id"))
    if kind in ("lease_keepalive", "defragment", "lease_timetolive"):
        # Answered with the header of the member asked, which may lag: only what they found.
        return (kind, tuple(output.get("keys") or ()))
    return (kind, rev)


def _order_free(req: dict[str, Any], kvs: tuple[KV | None, ...]) -> tuple[Any, bool]:
    """Sorted by anything but the key, kvs that tie may come in any order: whether the
    order is right, and the kvs in key order."""
    target = req.get("sort_target") or "key"
    if target == "key" or any(kv is None for kv in kvs):
        return kvs, True
    get = sort_key(target)
    values = [get(kv) for kv in kvs]
    pairs = list(zip(values, values[1:], strict=False))
    desc = req.get("sort_order") == "descend"
    ordered = all(a >= b for a, b in pairs) if desc else all(a <= b for a, b in pairs)
    return tuple(sorted(kvs, key=lambda kv: kv.key if kv is not None else "")), ordered


def sub_requests(req: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The requests of both branches of a txn (none for any other request)."""
    return (*(req.get("success") or ()), *(req.get("failure") or ())) if req.get("kind") == "txn" else ()


def may_write(req: dict[str, Any]) -> bool:
    """Whether the operation can change what later reads see (defragment cannot)."""
    kind = req.get("kind")
    if kind in ("range", "defragment", "lease_timetolive"):
        return False
    return kind != "txn" or any(may_write(o) for o in sub_requests(req))


def is_serializable_read(req: dict[str, Any]) -> bool:
    """A read served from the member's local state without consensus, so not linearizable.

    Mirrors etcd's ``isTxnSerializable``: a txn is served serializably when every request
    in both branches is a serializable range (so also when both branches are empty, and
    never when one holds a nested txn).
    """
    kind = req.get("kind")
    if kind == "range":
        return bool(req.get("serializable"))
    if kind == "txn":
        return all(s.get("kind") == "range" and bool(s.get("serializable")) for s in sub_requests(req))
    return False


def header_revision(output: Any) -> int | None:
    return _rev(output) if isinstance(output, dict) else None


def taken_branch(txn: dict[str, Any], output: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    """(request, response) of each operation in the branch a txn's response says it took."""
    branch = txn.get("success" if output.get("succeeded") else "failure") or []
    return list(zip(branch, output.get("responses") or [], strict=False))


def writes_of(req: dict[str, Any], output: Any) -> bool | None:
    """Whether an ok response says the request moved the revision (None: cannot tell).

    Exact for put, delete and txn, whose responses show their writes; a lease revoke's
    response does not say whether the lease had keys.
    """
    if not isinstance(output, dict) or output.get("error"):
        return False
    kind = req.get("kind")
    if kind == "put":
        return True
    if kind == "delete":
        return int(output.get("deleted") or 0) > 0
    if kind == "txn":
        return any(writes_of(b, r) for b, r in taken_branch(req, output))
    if kind == "lease_revoke":
        return None
    return False


def touched_keys(req: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Key ranges a request may read or write (both txn branches and compares)."""
    kind = req.get("kind")
    if kind in ("range", "put", "delete"):
        return [(req["key"], req.get("range_end") if kind != "put" else None)]
    if kind == "txn":
        out = [(c["key"], c.get("range_end")) for c in req.get("compare") or []]
        for sub in (req.get("success") or []) + (req.get("failure") or []):
            out.extend(touched_keys(sub))
        return out
    return []


def put_values(req: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, value) of every put a request may do; values are unique in our traffic."""
    kind = req.get("kind")
    if kind == "put":
        return [(req["key"], str(req.get("value", "")))]
    if kind == "txn":
        out = []
        for sub in (req.get("success") or []) + (req.get("failure") or []):
            out.extend(put_values(sub))
        return out
    return []


def delete_ranges(req: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Key ranges a request may delete (both txn branches)."""
    kind = req.get("kind")
    if kind == "delete":
        return [(req["key"], req.get("range_end"))]
    if kind == "txn":
        out = []
        for sub in (req.get("success") or []) + (req.get("failure") or []):
            out.extend(delete_ranges(sub))
        return out
    return []


def leases_of(req: dict[str, Any]) -> list[int]:
    kind = req.get("kind")
    if kind == "put":
        lease = int(req.get("lease") or 0)
        return [lease] if lease else []
    if kind == "txn":
        out = []
        for sub in (req.get("success") or []) + (req.get("failure") or []):
            out.extend(leases_of(sub))
        return out
    return []
