"""A simulated, correct etcd producing histories in the harness's format.

For property tests (every history it writes must pass; one mutation of it must fail) and
for benchmarks. It is a discrete-event simulation: each client calls, its request takes
effect atomically at a random instant inside the call (or, for an unknown outcome, maybe
later or never), and the response is what :mod:`models.etcd.requests` answers on a
:class:`~models.etcd.state.Store` at that instant. Watches, serializable reads from a
lagging member and final member status are derived from the same timeline.

Being built on the same request semantics as the checker, it cannot find mistakes in
them (the hand-written tests do that); it exercises the search, the bookkeeping of
unknown outcomes, timing, and the watch/stale-read/convergence checks.
"""

from __future__ import annotations

import heapq
import random
import zlib
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from models.etcd.requests import Result, apply
from models.etcd.state import ALL_KEYS, KV, Store, in_range, kv_to_dict
from models.history import ErrorInfo, Header, History, OpRecord, StatusRecord, WatchRecord
from tests.common.builders import watch_request

MS = 1_000_000


def commit(store: Store, res: Result) -> None:
    """What a request's result changes in a store: a revision, a lease, the compaction."""
    if res.changes:
        store.commit(store.revision + 1, res.changes)
    if res.grant is not None:
        store.grant(res.grant)
    if res.revoke is not None:
        store.revoke(res.revoke)
    if res.compact is not None:
        store.compact(res.compact)


@dataclass
class SimConfig:
    seed: int = 0
    clients: int = 8
    ops: int = 2000
    keys: int = 10
    #: mean time between two calls of one client (ns); 8 clients at 8 ms is ~1000 QPS
    interval: int = 8 * MS
    latency: int = 2 * MS
    unknown_rate: float = 0.005
    fail_rate: float = 0.002
    serializable_rate: float = 0.05
    max_lag: int = 5
    compact_rate: float = 0.002
    lease_rate: float = 0.02
    txn_rate: float = 0.15
    delete_rate: float = 0.08
    #: Puts, up to this share of all requests (after the kinds above); the rest read.
    put_rate: float = 0.45
    history_read_rate: float = 0.03
    watches: int = 3
    progress_rate: float = 0.05
    members: tuple[str, ...] = ("m1", "m2", "m3")
    lease_ttl: int = 3600
    #: Instants at which a member crashes with requests in flight: every write in
    #: flight then loses its response (unknown outcome) though it applied, which leaves
    #: runs of consecutive revisions that no acknowledged write explains.
    crashes: int = 0
    #: Another request mix: (rng, store, keys, op id) -> input (tests/common/sim_mixes.py).
    mix: Callable[[random.Random, Store, list[str], int], dict[str, Any]] | None = None


@dataclass
class _Pending:
    id: int
    client: int
    call: int
    input: dict[str, Any]
    ret: int | None
    status: str
    member: str
    applies: bool
    output: Any = None


@dataclass
class SimResult:
    history: History
    #: commit time and changes of each revision, for building mutations in tests
    revision_times: list[int] = field(default_factory=list)
    store: Store | None = None


def simulate(cfg: SimConfig) -> SimResult:
    rng = random.Random(cfg.seed)
    store = Store()
    keys = [f"k{i:03d}" for i in range(cfg.keys)]
    rev_time: list[int] = [0, 0]  # rev_time[r] = commit time of revision r
    rev_changes: list[list[tuple[str, KV | None]]] = [[], []]
    compact_time: list[tuple[int, int]] = []
    client_seen = [1] * cfg.clients
    client_leases: list[list[int]] = [[] for _ in range(cfg.clients)]
    ops: list[OpRecord] = []
    heap: list[tuple[int, int, str, Any]] = []
    seq = 0
    next_id = 0
    issued = 0

    def push(t: int, kind: str, payload: Any) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (t, seq, kind, payload))

    for c in range(cfg.clients):
        push(rng.randrange(cfg.interval), "call", c)
    span = cfg.ops * cfg.interval // max(1, cfg.clients)
    crash_times = sorted(rng.randrange(span) for _ in range(cfg.crashes))

    def rand_key() -> str:
        return rng.choice(keys)

    def make_input(c: int, opid: int) -> dict[str, Any]:
        if cfg.mix is not None:
            return cfg.mix(rng, store, keys, opid)
        x = rng.random()
        seen = client_seen[c]
        if x < cfg.compact_rate:
            return {"kind": "compact", "revision": max(1, seen - rng.randrange(0, 20)), "physical": False}
        x -= cfg.compact_rate
        if x < cfg.lease_rate:
            y = rng.random()
            if y < 0.5 or not client_leases[c]:
                lease = (c + 1) * 1_000_000 + opid
                client_leases[c].append(lease)
                return {"kind": "lease_grant", "id": lease, "ttl": cfg.lease_ttl}
            return {"kind": "lease_revoke", "id": rng.choice(client_leases[c])}
        x -= cfg.lease_rate
        if x < cfg.txn_rate:
            key = rand_key()
            target = rng.choice(["value", "version", "create", "mod", "lease"])
            if target == "value":
                cmp_val: Any = f"v{rng.randrange(max(1, opid))}"
            else:
                cmp_val = rng.randrange(0, max(2, seen))
            compare = [
                {"key": key, "target": target, "result": rng.choice(["=", "!=", "<", ">"]), "value": cmp_val}
            ]
            success: list[dict[str, Any]] = [
                {"kind": "put", "key": key, "value": f"v{opid}", "prev_kv": rng.random() < 0.5}
            ]
            if rng.random() < 0.3:
                success.append({"kind": "range", "key": rand_key()})
            if rng.random() < 0.1:
                success.append({"kind": "delete", "key": rand_key(), "prev_kv": True})
            failure: list[dict[str, Any]] = [{"kind": "range", "key": key}]
            if rng.random() < 0.1:
                failure.append(
                    {
                        "kind": "txn",
                        "compare": [{"key": key, "target": "version", "result": ">", "value": 0}],
                        "success": [{"kind": "put", "key": key + "/n", "value": f"v{opid}n"}],
                        "failure": [],
                    }
                )
            return {"kind": "txn", "compare": compare, "success": success, "failure": failure}
        x -= cfg.txn_rate
        if x < cfg.delete_rate:
            if rng.random() < 0.2:
                return {"kind": "delete", "key": "k00", "range_end": "k01", "prev_kv": rng.random() < 0.5}
            return {"kind": "delete", "key": rand_key(), "range_end": None, "prev_kv": rng.random() < 0.5}
        x -= cfg.delete_rate
        if x < cfg.put_rate:
            lease = 0
            if client_leases[c] and rng.random() < 0.2:
                lease = rng.choice(client_leases[c])
            return {
                "kind": "put",
                "key": rand_key(),
                "value": f"v{opid}",
                "lease": lease,
                "prev_kv": rng.random() < 0.3,
            }
        req: dict[str, Any] = {"kind": "range", "key": rand_key(), "range_end": None}
        y = rng.random()
        if y < 0.2:
            req.update(key="k", range_end="l")
        elif y < 0.25:
            req.update(key="\x00", range_end=ALL_KEYS)
        if rng.random() < 0.2:
            req["limit"] = rng.randrange(1, 4)
        if rng.random() < 0.1:
            req["keys_only"] = True
        elif rng.random() < 0.05:
            req["count_only"] = True
        if rng.random() < cfg.history_read_rate:
            req["revision"] = max(1, seen + rng.randrange(-30, 3))
        if rng.random() < cfg.serializable_rate:
            req["serializable"] = True
        return req

    pending: dict[int, _Pending] = {}
    while heap:
        t, _, kind, payload = heapq.heappop(heap)
        if kind == "call":
            c = payload
            if issued >= cfg.ops:
                continue
            issued += 1
            opid = next_id
            next_id += 1
            inp = make_input(c, opid)
            dur = max(1, int(rng.expovariate(1 / cfg.latency)))
            member = rng.choice(cfg.members)
            is_write = inp["kind"] != "range"
            status = "ok"
            applies = True
            r = rng.random()
            if is_write and r < cfg.unknown_rate:
                status = "unknown"
                applies = rng.random() < 0.5
            elif r < cfg.unknown_rate + cfg.fail_rate:
                status = "fail"
                applies = False
            ret: int | None = t + dur
            p = _Pending(opid, c, t, inp, ret, status, member, applies)
            pending[opid] = p
            if applies:
                lp = t + rng.randrange(1, dur + 1)
                if status == "unknown":
                    lp = t + rng.randrange(1, 3 * dur + 1)
                    if rng.random() < 0.3:
                        p.ret = None
                push(lp, "apply", opid)
            back = ret if ret is not None else t + dur
            push(back, "return", opid)
        elif kind == "apply":
            p = pending[payload]
            inp = p.input
            if inp["kind"] == "range" and inp.get("serializable"):
                lag = rng.randrange(0, cfg.max_lag + 1)
                res = apply(store.at(max(1, store.revision - lag)), inp)
                if res.error == "future_revision" or res.error == "compacted":
                    res = apply(store, inp)
            else:
                res = apply(store, inp)
            if res.error in ("lease_exists", "duplicate_key"):
                p.status = "fail"
            p.output = res.output
            if p.status == "ok" or p.status == "unknown":
                commit(store, res)
                if res.changes:
                    rev_time.append(t)
                    rev_changes.append(res.changes)
                if res.compact is not None:
                    compact_time.append((t, res.compact))
            store.forget_undo()
        else:
            p = pending[payload]
            c = p.client
            rec_ret = p.ret
            if p.status == "ok" and p.input["kind"] != "range" and crash_times:
                i = bisect_right(crash_times, p.call)
                if i < len(crash_times) and crash_times[i] <= t:
                    p.status = "unknown"
            if p.status == "ok":
                out = p.output
                if p.input["kind"] == "compact" and isinstance(out, dict) and "header" in out:
                    # etcd answers a compaction with its revision when it replies
                    # (kv.Rev() after the apply), not the one it was applied at.
                    out = {**out, "header": {**out["header"], "revision": store.revision}}
                h = (out or {}).get("header") if isinstance(out, dict) else None
                if h:
                    client_seen[c] = max(client_seen[c], h["revision"])
                ops.append(OpRecord(p.id, c, p.call, p.input, "ok", rec_ret, out, None, p.member))
            elif p.status == "fail":
                ops.append(
                    OpRecord(
                        p.id,
                        c,
                        p.call,
                        p.input,
                        "fail",
                        rec_ret,
                        None,
                        ErrorInfo("INVALID_ARGUMENT"),
                        p.member,
                    )
                )
            else:
                ops.append(
                    OpRecord(
                        p.id,
                        c,
                        p.call,
                        p.input,
                        "unknown",
                        rec_ret,
                        None,
                        ErrorInfo("DEADLINE_EXCEEDED"),
                        p.member,
                    )
                )
            push(t + rng.randrange(1, 2 * cfg.interval), "call", c)

    end_time = max([rev_time[-1]] + [o.ret or o.call for o in ops]) + MS
    watches = _watches(cfg, rng, store, rev_time, rev_changes, compact_time, end_time)
    final = store.revision
    h = zlib.crc32(repr(store.range("", ALL_KEYS, final)).encode())
    statuses = [
        StatusRecord(
            time=end_time + MS,
            member=m,
            revision=final,
            raft_applied_index=final + 100,
            hash=h,
            hash_revision=final,
            compact_revision=store.compact_revision,
        )
        for m in cfg.members
    ]
    ops.sort(key=lambda o: o.id)
    header = Header(scenario="simulated", seed=cfg.seed, model="etcd", cluster={"members": list(cfg.members)})
    history = History(header=header, ops=ops, watches=watches, statuses=statuses, finished=True)
    return SimResult(history, rev_time, store)


def _watches(
    cfg: SimConfig,
    rng: random.Random,
    store: Store,
    rev_time: list[int],
    rev_changes: list[list[tuple[str, KV | None]]],
    compact_time: list[tuple[int, int]],
    end_time: int,
) -> list[WatchRecord]:
    out: list[WatchRecord] = []
    client_base = 1000
    # The highest compaction by each instant, by bisection: a scan per revision made
    # a million-operation history take hours.
    compact_at = [ct for ct, _ in compact_time]
    compact_max = list(accumulate((cr for _, cr in compact_time), max))
    for w in range(cfg.watches):
        member = rng.choice(cfg.members)
        created = rng.randrange(0, max(1, end_time // 2))
        cur = bisect_right(rev_time, created) - 1
        cur = max(cur, 1)
        shape = rng.random()
        if shape < 0.4:
            key, end = "\x00", ALL_KEYS
        elif shape < 0.7:
            key, end = "k", "l"
        else:
            key, end = f"k{rng.randrange(cfg.keys):03d}", None
        start = 0 if rng.random() < 0.5 else max(1, cur - rng.randrange(0, 30))
        prev_kv = rng.random() < 0.5
        req = watch_request(key, end, start, prev_kv)
        client = client_base + w
        out.append(
            WatchRecord(watch=w, client=client, time=created, event="request", member=member, request=req)
        )
        t = created + 1
        out.append(
            WatchRecord(
                watch=w, client=client, time=t, event="created", member=member, header={"revision": cur}
            )
        )
        compact_rev = 0
        for ct, cr in compact_time:
            if ct <= created:
                compact_rev = cr
        if compact_rev and rng.random() < 0.3:
            # A watcher resuming after a "compacted" cancel starts at the compact revision.
            start = compact_rev
            req["start_revision"] = start
        if start and start < compact_rev:
            out.append(
                WatchRecord(
                    watch=w,
                    client=client,
                    time=t + 1,
                    event="canceled",
                    member=member,
                    header={"revision": cur},
                    compact_revision=compact_rev,
                    cancel_reason="compacted",
                )
            )
            continue
        first = start if start else cur + 1
        batch: list[dict[str, Any]] = []
        batch_rev = 0
        for r in range(max(first, 2), len(rev_time)):
            t_next = max(t, rev_time[r]) + rng.randrange(1, MS)
            # etcd reads prev_kv at r - 1 when it sends the event and leaves it out
            # once that revision is compacted.
            i = bisect_right(compact_at, t_next)
            compacted = compact_max[i - 1] if i else 0
            evs = []
            for k, kv in rev_changes[r]:
                if not in_range(k, key, end):
                    continue
                ev: dict[str, Any] = {
                    "type": "PUT" if kv is not None else "DELETE",
                    "kv": kv_to_dict(kv) if kv is not None else {"key": k, "mod_revision": r},
                    "prev_kv": kv_to_dict(store.get(k, r - 1)) if prev_kv and r - 1 >= compacted else None,
                }
                evs.append(ev)
            if not evs:
                continue
            t = t_next
            batch.extend(evs)
            batch_rev = r
            if rng.random() < 0.6:
                out.append(_events(w, client, t, member, r, batch))
                batch = []
            if rng.random() < cfg.progress_rate:
                if batch:
                    out.append(_events(w, client, t, member, batch_rev, batch))
                    batch = []
                t += 1
                p = bisect_right(rev_time, t) - 1
                nxt = r + 1
                while nxt < len(rev_time) and not any(in_range(k, key, end) for k, _ in rev_changes[nxt]):
                    nxt += 1
                p = min(p, nxt - 1)
                out.append(
                    WatchRecord(
                        watch=w,
                        client=client,
                        time=t,
                        event="progress",
                        member=member,
                        header={"revision": p},
                    )
                )
        if batch:
            t += 1
            out.append(
                WatchRecord(
                    watch=w,
                    client=client,
                    time=t,
                    event="events",
                    member=member,
                    header={"revision": batch_rev},
                    events=batch,
                )
            )
    out.sort(key=lambda rec: (rec.time, rec.watch))
    return out


def _events(w: int, client: int, t: int, member: str, rev: int, batch: list[dict[str, Any]]) -> WatchRecord:
    return WatchRecord(
        watch=w, client=client, time=t, event="events", member=member, header={"revision": rev}, events=batch
    )
