"""Step 5a, leases: they do not move the revision, so they are checked on the placement.

A put under a lease must come after a grant of it and before any revoke; a lease is
revoked successfully at most as often as it was granted, and only after a grant; a
``lease_not_found`` (a keepalive's too) needs a revoke (or expiry) that could have come
first, or no grant finished before it; a keepalive does not renew a lease whose revoke
was acknowledged before it. TimeToLive answers are judged with slack of their own
(lease_lookups). One-sided: only what no order can explain is flagged.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from models.anomaly import Anomaly
from models.etcd.model import describe
from models.etcd.requests import header_revision, leases_of
from models.etcd.revisions.claims import Claims
from models.etcd.revisions.lease_lookups import KIND as LOOKUP
from models.etcd.revisions.lease_lookups import check_lease_lookups
from models.etcd.state import KV
from models.operation import Operation


def check_leases(
    ops: Sequence[Operation],
    claims: Claims,
    writers: list[int | None],
    changes_at: list[list[tuple[str, KV | None]]],
    hi: list[int],
) -> list[Anomaly]:
    grants, revokes = _grants_and_revokes(ops)
    revoked_at = _surely_revoked(claims, writers)
    out = _puts_under_leases(claims, grants, revoked_at, changes_at, hi)
    out += _revokes(grants, revokes)
    out += _not_found(ops, grants, revokes)
    out += _renewed_after_revoke(ops, revokes)
    out += check_lease_lookups(ops, grants, revokes)
    return out


def _grants_and_revokes(
    ops: Sequence[Operation],
) -> tuple[dict[int, list[Operation]], dict[int, list[Operation]]]:
    """Per lease, the grants that may have succeeded and every revoke that may have."""
    grants: dict[int, list[Operation]] = defaultdict(list)
    revokes: dict[int, list[Operation]] = defaultdict(list)
    for op in ops:
        kind = op.input.get("kind")
        if op.status == "fail":
            continue
        if kind == "lease_grant" and not _error(op):
            grants[int(op.input["id"])].append(op)
        elif kind == "lease_revoke":
            revokes[int(op.input["id"])].append(op)
    return grants, revokes


def _error(op: Operation) -> bool:
    return isinstance(op.output, dict) and bool(op.output.get("error"))


def _surely_revoked(claims: Claims, writers: list[int | None]) -> dict[int, int]:
    """When each lease was surely revoked: a revision before which it still existed.

    Only acknowledged revokes count: the search may have placed one of unknown outcome
    (or an expiry) in a gap that another write could fill as well.
    """
    by_id = claims.by_id
    revoked_at: dict[int, int] = {}
    for r, w in enumerate(writers):
        if w is not None and by_id[w].input.get("kind") == "lease_revoke" and by_id[w].status == "ok":
            lease = int(by_id[w].input["id"])
            revoked_at[lease] = min(revoked_at.get(lease, r), r)
    for r, lst in claims.revokes.items():
        for op in lst:
            if writers[r] != op.id:
                lease = int(op.input["id"])
                revoked_at[lease] = min(revoked_at.get(lease, r + 1), r + 1)
    return revoked_at


def _puts_under_leases(
    claims: Claims,
    grants: dict[int, list[Operation]],
    revoked_at: dict[int, int],
    changes_at: list[list[tuple[str, KV | None]]],
    hi: list[int],
) -> list[Anomaly]:
    def granted_before(lease: int, r: int, ret: int) -> bool:
        for g in grants.get(lease, ()):
            if g.status == "ok":
                if (header_revision(g.output) or 0) < r:
                    return True
            elif g.call <= ret:
                return True
        return False

    out: list[Anomaly] = []
    for r, op in claims.fixed.items():
        for lease in {kv.lease for _, kv in changes_at[r] if kv is not None and kv.lease}:
            if not granted_before(lease, r, hi[r]):
                message = f"op {op.id} put under lease {lease} at revision {r} before any grant of it"
            elif lease in revoked_at and revoked_at[lease] <= r:
                message = (
                    f"op {op.id} put under lease {lease} at revision {r}, "
                    f"after the lease was revoked (revision {revoked_at[lease]})"
                )
            else:
                continue
            out.append(Anomaly("non-linearizable", message, [op.id]))
    return out


def _revokes(grants: dict[int, list[Operation]], revokes: dict[int, list[Operation]]) -> list[Anomaly]:
    out: list[Anomaly] = []
    for lease, lst in revokes.items():
        done = [op for op in lst if op.status == "ok" and not _error(op)]
        if len(done) > len(grants.get(lease, ())):
            out.append(
                Anomaly(
                    "non-linearizable",
                    f"lease {lease} revoked successfully {len(done)} times",
                    [op.id for op in done],
                )
            )
        for op in done:
            ret = op.effective_return
            if not grants.get(lease) or all(g.call > ret for g in grants[lease]):
                out.append(
                    Anomaly(
                        "non-linearizable",
                        f"op {op.id} revoked lease {lease} that was never granted before",
                        [op.id],
                    )
                )
    return out


def _not_found(
    ops: Sequence[Operation], grants: dict[int, list[Operation]], revokes: dict[int, list[Operation]]
) -> list[Anomaly]:
    out: list[Anomaly] = []
    for op in ops:
        if (
            op.status != "ok"
            or op.input.get("kind") == LOOKUP
            or not isinstance(op.output, dict)
            or op.output.get("error") != "lease_not_found"
        ):
            continue
        kind = op.input.get("kind")
        leases = [int(op.input["id"])] if kind in ("lease_revoke", "lease_keepalive") else leases_of(op.input)
        explained = False
        for lease in leases:
            done = [g for g in grants.get(lease, ()) if g.status == "ok" and g.effective_return < op.call]
            if not done or any(
                v.id != op.id and v.call < op.effective_return for v in revokes.get(lease, ())
            ):
                explained = True
                break
        if not explained:
            out.append(
                Anomaly(
                    "non-linearizable",
                    f"op {op.id} got lease_not_found though the lease was granted before it and never revoked: "
                    f"{describe(op.input, op.output)}",
                    [op.id],
                )
            )
    return out


#: How long after an acknowledged revoke a keepalive may still find the lease: the
#: leader answers only after applying what was committed before the call, but a new
#: leader learns the commit index with its first entry.
RENEW_AFTER_REVOKE_S = 2.0


def _renewed_after_revoke(ops: Sequence[Operation], revokes: dict[int, list[Operation]]) -> list[Anomaly]:
    """A keepalive that renewed a lease called well after its revoke was acknowledged
    (lease ids are never granted twice in our traffic; a second grant is not judged)."""
    done: dict[int, Operation] = {}
    for lease, lst in revokes.items():
        acked = [op for op in lst if op.status == "ok" and not _error(op) and op.ret is not None]
        if acked:
            done[lease] = min(acked, key=lambda op: op.ret or 0)
    grants = Counter(int(op.input["id"]) for op in ops if op.input.get("kind") == "lease_grant")
    out: list[Anomaly] = []
    for op in ops:
        if op.input.get("kind") != "lease_keepalive" or op.status != "ok" or _error(op):
            continue
        lease = int(op.input["id"])
        revoke = done.get(lease)
        if revoke is None or grants[lease] > 1:
            continue
        if op.call > (revoke.ret or 0) + RENEW_AFTER_REVOKE_S * 1_000_000_000:
            out.append(
                Anomaly(
                    "non-linearizable",
                    f"op {op.id} renewed lease {lease} after op {revoke.id} revoked it "
                    f"({(op.call - (revoke.ret or 0)) / 1e9:.1f} s after the revoke was acknowledged)",
                    [revoke.id, op.id],
                )
            )
    return out
