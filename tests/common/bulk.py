"""Big, realistic-looking etcd histories made fast (not checked for linearizability by
construction like the simulator's: a plain sequential store with overlapping calls), for
report rendering tests and the report benchmark."""

from __future__ import annotations

import random

from models.history import ErrorInfo, FaultRecord, Header, History, OpRecord, StatusRecord, WatchRecord

MS = 1_000_000
MEMBERS = ["m1", "m2", "m3"]


def generate(n_ops: int, clients: int = 16, seed: int = 1, keys: int = 200) -> History:
    """A plausible linearizable etcd history: every op takes effect at a point in its interval."""
    rng = random.Random(seed)
    span = n_ops // clients * 16 * MS
    faults = [
        (span * 2 // 10, span * 3 // 10, "kill", ["m2"]),
        (span * 5 // 10, span * 6 // 10, "partition", ["m1"]),
        (span * 8 // 10, span * 85 // 100, "delay", ["m3"]),
    ]
    pending: list[tuple[int, int, int, int, int, str, str, str]] = []
    clock = [rng.randrange(0, 5 * MS) for _ in range(clients)]
    for i in range(n_ops):
        c = i % clients
        call = clock[c]
        in_fault = any(a <= call < b for a, b, _, _ in faults)
        lat = int(rng.lognormvariate(0.3, 0.6) * MS) + (int(rng.expovariate(1 / 30) * MS) if in_fault else 0)
        ret = call + lat
        point = call + rng.randrange(0, max(1, lat))
        kind = "put" if rng.random() < 0.4 else "range"
        status = "ok"
        if in_fault and rng.random() < 0.2:
            status = "unknown" if kind == "put" else "fail"
        pending.append((point, i, c, call, ret, kind, f"k{rng.randrange(keys)}", status))
        clock[c] = ret + rng.randrange(5 * MS, 25 * MS)
    pending.sort()
    rev = 1
    store: dict[str, tuple[str, int, int, int]] = {}
    ops: list[OpRecord] = []
    for _point, i, c, call, ret, kind, key, status in pending:
        member = MEMBERS[c % 3]
        if status != "ok":
            if status == "unknown" and rng.random() < 0.5:
                rev += 1
                prev = store.get(key)
                store[key] = (f"v{i}", prev[1] if prev else rev, rev, (prev[3] + 1) if prev else 1)
            err = ErrorInfo(code="UNAVAILABLE", message="etcdserver: request timed out")
            inp = {"kind": kind, "key": key, "value": f"v{i}", "lease": 0, "prev_kv": False}
            if kind == "range":
                inp = {"kind": "range", "key": key, "range_end": None, "revision": 0, "limit": 0}
            ops.append(
                OpRecord(
                    id=i, client=c, call=call, ret=ret, input=inp, status=status, error=err, member=member
                )
            )
            continue
        if kind == "put":
            rev += 1
            prev = store.get(key)
            store[key] = (f"v{i}", prev[1] if prev else rev, rev, (prev[3] + 1) if prev else 1)
            out = {"header": {"revision": rev}, "prev_kv": None}
            inp = {"kind": "put", "key": key, "value": f"v{i}", "lease": 0, "prev_kv": False}
        else:
            kv = store.get(key)
            kvs = (
                []
                if kv is None
                else [
                    {
                        "key": key,
                        "value": kv[0],
                        "create_revision": kv[1],
                        "mod_revision": kv[2],
                        "version": kv[3],
                        "lease": 0,
                    }
                ]
            )
            out = {"header": {"revision": rev}, "kvs": kvs, "more": False, "count": len(kvs)}
            inp = {"kind": "range", "key": key, "range_end": None, "revision": 0, "limit": 0}
        ops.append(
            OpRecord(id=i, client=c, call=call, ret=ret, input=inp, output=out, status="ok", member=member)
        )
    ops.sort(key=lambda o: o.id)
    end = max(o.ret or o.call for o in ops)
    hist = History(
        header=Header(
            tool_version="bench",
            scenario="bench-60k",
            seed=seed,
            cluster={"backend": "process", "members": [{"name": m} for m in MEMBERS]},
            etcd_versions=["3.5.17"],
            start_time="2026-01-01T00:00:00Z",
            model="etcd",
        ),
        ops=ops,
        finished=True,
    )
    for fid, (a, b, kind, targets) in enumerate(faults):
        hist.faults.append(FaultRecord(id=fid, phase="start", kind=kind, time=a, targets=targets))
        hist.faults.append(FaultRecord(id=fid, phase="end", kind=kind, time=b, targets=targets))
    step = 500 * MS
    puts = sorted(
        (o.ret or 0, (o.output or {}).get("header", {}).get("revision", 0)) for o in ops if o.status == "ok"
    )
    k = 0
    current = 1
    for t in range(0, end, step):
        while k < len(puts) and puts[k][0] <= t:
            current = max(current, puts[k][1])
            k += 1
        for m in MEMBERS:
            lag = 0 if m != "m2" or not (faults[0][0] <= t < faults[0][1]) else rng.randrange(50, 200)
            hist.statuses.append(StatusRecord(time=t, member=m, revision=max(1, current - lag), raft_term=2))
    hist.watches.append(
        WatchRecord(
            watch=1,
            client=clients,
            time=0,
            event="request",
            member="m1",
            request={"key": "k0", "range_end": "\u0000"},
        )
    )
    for t in range(MS, end, 250 * MS):
        hist.watches.append(
            WatchRecord(
                watch=1, client=clients, time=t, event="progress", member="m1", header={"revision": 1}
            )
        )
    return hist
