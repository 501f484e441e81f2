"""The end of a run's traffic: make every watcher catch up, let the members settle, and
sample what the convergence check compares.

Sentinel writes (one key per watcher) show each watcher caught up; then, once the
members agree on a revision (or applied the same log and still differ), every member
is read in full, linearizably and serializably, and its Status and HashKV are sampled
twice; where HashKV differs, bisection over earlier revisions names the first one that
diverged. Everything is recorded in the history, so the checks need nothing else.
"""

from __future__ import annotations

import contextlib
import time

from harness.client.etcd import EtcdClient
from harness.client.outcome import error_info
from harness.client.recorder import Clock, Counter, Recorder, status_sample
from harness.cluster import Cluster
from harness.history.jsonl import HistoryWriter
from harness.traffic.ops import prefix_end, put_op, range_op
from harness.traffic.plan import Plan, key_prefix
from harness.traffic.watchers import Watchers
from models.history import StatusRecord

FINAL_CLIENT_BASE = 20_000

SENTINEL_CLIENT = 19_999


def sentinels(
    watchers: Watchers, endpoints: list[str], writer: HistoryWriter, clock: Clock, ids: Counter
) -> dict[str, int]:
    """Write each watcher's sentinel key once (recorded like any traffic)."""
    revisions: dict[str, int] = {}
    for i, key in enumerate(sorted(watchers.sentinels())):
        for attempt in range(len(endpoints) * 3):
            ep = endpoints[(i + attempt) % len(endpoints)]
            with EtcdClient(ep, timeout=5.0) as c:
                rec = Recorder(c, writer, clock, ids, SENTINEL_CLIENT)
                r = rec.execute(put_op(key, f"sentinel-{i}"), 5.0)
            if r.status == "ok":
                revisions[key] = int(r.output["header"]["revision"])
                break
            time.sleep(0.2)
    return revisions


def settle_and_sample(
    cluster: Cluster | None,
    endpoints: list[str],
    writer: HistoryWriter,
    clock: Clock,
    ids: Counter,
    plan: Plan,
) -> int | None:
    """After traffic: wait until members agree on a revision, then read everything per
    member (linearizable and serializable reads go into the history) and record HashKV at
    the common revision, so convergence can be judged."""
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.wait_healthy(30)
    p = key_prefix(plan.profile)
    revisions: dict[str, int] = {}
    for _ in range(50):
        revisions = {}
        applied: set[int] = set()
        for ep in endpoints:
            with contextlib.suppress(Exception), EtcdClient(ep, timeout=2.0) as c:
                st = c.status(timeout=2.0)
                revisions[ep] = st.header.revision
                applied.add(st.raftAppliedIndex)
        if len(revisions) == len(endpoints) and (
            len(set(revisions.values())) == 1 or (len(applied) == 1 and 0 not in applied)
        ):
            # Equal revisions, or every member applied the same log and they still
            # differ: diverged, and waiting longer will not change it.
            break
        time.sleep(0.2)
    common = min(revisions.values()) if revisions else None
    hashes: dict[str, tuple[int, int]] = {}
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(EtcdClient(ep, timeout=5.0)) for ep in endpoints]
        for i, c in enumerate(clients):
            rec = Recorder(c, writer, clock, ids, FINAL_CLIENT_BASE + i)
            rec.execute(range_op(p, prefix_end(p)), 5.0)
            rec.execute(range_op(p, prefix_end(p), serializable=True), 5.0)
        # Status after every final read: the convergence check compares revisions only
        # in samples taken once the last operation returned, and only where two samples
        # in a row agree (nothing was applied between them).
        for ep, c in zip(endpoints, clients, strict=True):
            sample = status_sample(c, ep, clock, common or None)
            writer.write(sample)
            if sample.hash is not None:
                hashes[ep] = (sample.hash, sample.compact_revision or 0)
        for ep, c in zip(endpoints, clients, strict=True):
            writer.write(status_sample(c, ep, clock, None))
    if common and len({h for h, _ in hashes.values()}) > 1:
        bisect_hashes(endpoints, writer, clock, max(c for _, c in hashes.values()), common)
    return common


def bisect_hashes(endpoints: list[str], writer: HistoryWriter, clock: Clock, lo: int, hi: int) -> None:
    """Members' HashKV differ at ``hi``: find the first revision where they do, by
    bisection over HashKV at earlier revisions (down to the compact revision ``lo``).
    Every probe is recorded as a status sample, so the convergence check names the first
    diverging revision from the history alone."""
    clients = [EtcdClient(ep, timeout=5.0) for ep in endpoints]
    try:
        for _ in range(64):
            if hi - lo <= 1:
                return
            mid = (lo + hi) // 2
            seen: set[tuple[int, int]] = set()
            for ep, c in zip(endpoints, clients, strict=True):
                sample = StatusRecord(time=0, member=ep, hash_revision=mid)
                try:
                    h = c.hash_kv(mid, timeout=5.0)
                    sample.hash, sample.compact_revision = h.hash, h.compact_revision
                    seen.add((h.hash, h.compact_revision))
                except Exception as exc:  # noqa: BLE001 - e.g. compacted: stop bisecting there
                    sample.hash_revision = None
                    sample.error = error_info(exc)
                sample.time = clock()
                writer.write(sample)
                if sample.error is not None:
                    return
            if len(seen) > 1:
                hi = mid
            else:
                lo = mid
    finally:
        for c in clients:
            c.close()
