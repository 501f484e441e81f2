"""Acknowledged puts per second: a bare grpc loop vs the harness client with recording.

Starts its own 3-member etcd cluster on 127.0.0.1 (free ports, data in /dev/shm),
runs both loops with the same concurrency against the same members, alternating their
order round by round, and prints both rates, the client's CPU per put, and the recording
overhead (medians over rounds). Every loop is bounded by a count and a time limit.

On a small machine the cluster and the client share the CPU, so rates swing by tens of
percent with anything else running; client CPU per put is the steadier measure of what
recording costs.

    python -m bench.speed.client_throughput [--etcd PATH] [--inflight 16] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import msgspec

from harness.client import EtcdClient, EtcdError
from harness.client.aio import AsyncEtcdClient, AsyncRecorder
from harness.client.etcd import channel_options, grpc_target
from harness.client.proto import etcd_pb2 as pb
from harness.client.proto import etcd_pb2_grpc as rpc
from harness.client.recorder import Clock, Recorder
from harness.client.recorder import Counter as IdCounter
from harness.history.jsonl import HistoryWriter, read_history
from harness.traffic.plan import WatchSpec, make_plan
from harness.traffic.watchers import WATCHER_CLIENT_BASE, Watchers
from models.history import EndRecord, Header
from scenarios.base import Scenario


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_cluster(binary: str, n: int, base: str) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    ports = [(free_port(), free_port()) for _ in range(n)]
    initial = ",".join(f"m{i}=http://127.0.0.1:{p}" for i, (_, p) in enumerate(ports))
    procs, endpoints = [], []
    for i, (c, p) in enumerate(ports):
        args = [
            binary,
            f"--name=m{i}",
            f"--data-dir={base}/m{i}",
            f"--listen-client-urls=http://127.0.0.1:{c}",
            f"--advertise-client-urls=http://127.0.0.1:{c}",
            f"--listen-peer-urls=http://127.0.0.1:{p}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{p}",
            f"--initial-cluster={initial}",
            "--initial-cluster-state=new",
            "--heartbeat-interval=50",
            "--election-timeout=500",
            "--logger=zap",
            "--log-level=error",
        ]
        log = open(f"{base}/m{i}.log", "wb")  # noqa: SIM115 - owned by the child
        procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        endpoints.append(f"127.0.0.1:{c}")
    deadline = time.monotonic() + 30
    for ep in endpoints:
        with EtcdClient(ep, timeout=1.0) as client:
            while True:
                try:
                    # A linearizable read needs a leader, as a put does, and writes nothing:
                    # the harness runs only against a fresh cluster.
                    client.range(b"__ready")
                    break
                except EtcdError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"cluster did not start; logs in {base}") from None
                    time.sleep(0.1)
    return procs, endpoints


def stop_cluster(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def cpu_seconds() -> float:
    """CPU time of this process (the client side: etcd members are other processes)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cluster_cpu_seconds(procs: list[subprocess.Popen[bytes]]) -> float:
    """CPU time of the etcd members so far (utime + stime from /proc): with watchers, the
    members' own cost of serving every event to every stream is part of what a write
    costs, and on two cores it comes out of the write rate."""
    total = 0
    for p in procs:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run_threads(n: int, seconds: float, max_ops: int, body: Callable[[int, int], bool]) -> tuple[int, float]:
    """``n`` threads call ``body(thread, i)`` until the time or the op budget runs out;
    returns (acknowledged ops, elapsed s)."""
    acked = [0] * n
    stop = threading.Event()
    per_thread = max_ops // n
    start_line = threading.Barrier(n + 1)

    def worker(t: int) -> None:
        start_line.wait()
        ok = 0
        for i in range(per_thread):
            if stop.is_set():
                break
            if body(t, i):
                ok += 1
        acked[t] = ok

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(n)]
    for th in threads:
        th.start()
    start_line.wait()
    t0 = time.monotonic()
    deadline = t0 + seconds
    while time.monotonic() < deadline and any(th.is_alive() for th in threads):
        time.sleep(0.05)
    stop.set()
    for th in threads:
        th.join(30)
    return sum(acked), time.monotonic() - t0


def bare(endpoints: list[str], inflight: int, seconds: float, max_ops: int) -> tuple[int, float]:
    channels = [grpc.insecure_channel(grpc_target(ep), options=channel_options()) for ep in endpoints]
    stubs = [rpc.KVStub(ch) for ch in channels]

    def body(t: int, i: int) -> bool:
        try:
            stubs[t % len(stubs)].Put(
                pb.PutRequest(key=f"bare/{t}/{i % 100}".encode(), value=str(i).encode()), timeout=5
            )
            return True
        except grpc.RpcError:
            return False

    try:
        return run_threads(inflight, seconds, max_ops, body)
    finally:
        for ch in channels:
            ch.close()


def recorded(
    endpoints: list[str], inflight: int, seconds: float, max_ops: int, history: str
) -> tuple[int, float]:
    clients = [EtcdClient(ep, timeout=5) for ep in endpoints]
    writer = HistoryWriter(history, Header(scenario="bench", model="etcd"))
    clock, ids = Clock(), IdCounter()
    recorders = [Recorder(clients[t % len(clients)], writer, clock, ids, t) for t in range(inflight)]

    def body(t: int, i: int) -> bool:
        op = {"kind": "put", "key": f"key/{t}/{i % 100}", "value": str(i), "lease": 0, "prev_kv": False}
        return recorders[t].execute(op, 5).status == "ok"

    try:
        return run_threads(inflight, seconds, max_ops, body)
    finally:
        writer.close(EndRecord(time=clock()))
        for c in clients:
            c.close()


async def run_tasks(
    n: int, seconds: float, max_ops: int, body: Callable[[int, int], Any]
) -> tuple[int, float]:
    """``n`` coroutines await ``body(task, i)`` until the time or the op budget runs out."""
    per_task = max_ops // n
    t0 = time.monotonic()
    deadline = t0 + seconds

    async def worker(t: int) -> int:
        ok = 0
        for i in range(per_task):
            if time.monotonic() >= deadline:
                break
            if await body(t, i):
                ok += 1
        return ok

    acked = await asyncio.gather(*(worker(t) for t in range(n)))
    return sum(acked), time.monotonic() - t0


async def bare_aio(endpoints: list[str], inflight: int, seconds: float, max_ops: int) -> tuple[int, float]:
    channels = [grpc.aio.insecure_channel(grpc_target(ep), options=channel_options()) for ep in endpoints]
    stubs = [rpc.KVStub(ch) for ch in channels]

    async def body(t: int, i: int) -> bool:
        try:
            req = pb.PutRequest(key=f"bare/{t}/{i % 100}".encode(), value=str(i).encode())
            await stubs[t % len(stubs)].Put(req, timeout=5)
            return True
        except grpc.aio.AioRpcError:
            return False

    try:
        return await run_tasks(inflight, seconds, max_ops, body)
    finally:
        for ch in channels:
            await ch.close()


async def _drain_watches(
    endpoints: list[str], per_member: int, prefix: bytes, ready: Any, stop: Any, seen: list[int]
) -> None:
    created = [0]

    async def one(ep: str) -> None:
        async with grpc.aio.insecure_channel(grpc_target(ep), options=channel_options()) as ch:
            call = rpc.WatchStub(ch).Watch()
            create = pb.WatchCreateRequest(key=prefix, range_end=prefix[:-1] + bytes([prefix[-1] + 1]))
            await call.write(pb.WatchRequest(create_request=create))
            created[0] += 1
            if created[0] == len(tasks):
                ready.set()
            with contextlib.suppress(grpc.aio.AioRpcError, asyncio.CancelledError):
                for _ in range(10_000_000):
                    if await call.read() is grpc.aio.EOF:
                        return
                    seen[0] += 1

    tasks = [asyncio.create_task(one(ep)) for _ in range(per_member) for ep in endpoints]
    for _ in range(36_000):
        if stop.is_set():
            break
        await asyncio.sleep(0.05)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _watch_process(
    endpoints: list[str], per_member: int, prefix: bytes, ready: Any, stop: Any, out: Any
) -> None:
    seen = [0]
    asyncio.run(_drain_watches(endpoints, per_member, prefix, ready, stop, seen))
    out.put((seen[0], cpu_seconds()))


def raw_watchers(endpoints: list[str], per_member: int, prefix: bytes) -> Callable[[], tuple[int, float]]:
    """``per_member`` unrecorded prefix watches on every member, read and dropped by a
    process of their own (no GIL shared with the loop it watches): what watching costs
    the client and the cluster before any recording, so the ceiling any recording client
    could reach here. Stopping it returns (messages read, that process's CPU seconds)."""
    ctx = multiprocessing.get_context("fork")
    ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    args = (endpoints, per_member, prefix, ready, stop, out)
    proc = ctx.Process(target=_watch_process, args=args, daemon=True)
    proc.start()
    ready.wait(10)

    def finish() -> tuple[int, float]:
        stop.set()
        try:
            return out.get(timeout=20)  # type: ignore[no-any-return]
        finally:
            proc.join(10)
            if proc.is_alive():
                proc.kill()

    return finish


async def recorded_aio(
    endpoints: list[str], inflight: int, seconds: float, max_ops: int, history: str, watchers: int = 0
) -> tuple[int, float]:
    clients = [AsyncEtcdClient(ep, timeout=5) for ep in endpoints]
    writer = HistoryWriter(history, Header(scenario="bench", model="etcd"))
    clock, ids = Clock(), IdCounter()
    recorders = [AsyncRecorder(clients[t % len(clients)], writer, clock, ids, t) for t in range(inflight)]
    stop_watching = start_watchers(endpoints, watchers, writer, clock, ids)

    async def body(t: int, i: int) -> bool:
        op = {"kind": "put", "key": f"key/{t}/{i % 100}", "value": str(i), "lease": 0, "prev_kv": False}
        return (await recorders[t].execute(op, 5)).status == "ok"

    try:
        return await run_tasks(inflight, seconds, max_ops, body)
    finally:
        stop_watching()
        writer.close(EndRecord(time=clock()))
        for c in clients:
            await c.close()


def start_watchers(
    endpoints: list[str], per_member: int, writer: HistoryWriter, clock: Clock, ids: IdCounter
) -> Callable[[], None]:
    """``per_member`` recorded prefix watches (on ``key/``, where the recorded loops put)
    on every member, run by the harness's own :class:`Watchers`; returns what stops them."""
    specs = [
        WatchSpec(
            watcher=i, member=i % len(endpoints), prefix=True, key=0, prev_kv=False, progress_notify=False
        )
        for i in range(per_member * len(endpoints))
    ]
    plan = make_plan(Scenario(name="bench", description="", members=len(endpoints)), 1)
    plan = msgspec.structs.replace(plan, watchers=specs, request_progress=False)
    watchers = Watchers(plan, endpoints, writer, clock, ids, IdCounter(), client_base=WATCHER_CLIENT_BASE)
    with EtcdClient(endpoints[0], timeout=5) as client:
        now = int(client.status().header.revision)
    for w in watchers.watchers:
        # From now on, as a watcher of a fresh cluster would: not the earlier rounds' puts.
        w.next_revision = now + 1
    watchers.start(time.monotonic() + 3600)
    return lambda: watchers.finish(None, timeout=0.5)


def describe(history: str) -> str:
    """Record count, and the errors of the ones that failed, from the history itself."""
    hist = read_history(history)
    ops = hist.ops
    errors = Counter(f"{o.status} {o.error.code}: {o.error.message[:60]}" for o in ops if o.error is not None)
    watched = f", {len(hist.watches)} watch records" if hist.watches else ""
    return f"{len(ops)} records{watched}" + "".join(f"; {n} x {e}" for e, n in errors.most_common(3))


def run_loop(
    mode: str, name: str, endpoints: list[str], args: argparse.Namespace, hist: str
) -> tuple[int, float, tuple[int, float] | None]:
    """(acked puts, seconds, and for the unrecorded watchers: messages, their CPU s)."""
    common = (endpoints, args.inflight, args.seconds, args.max_ops)
    if mode == "aio":
        if name == "bare":
            return *asyncio.run(bare_aio(*common)), None
        if name == "bare+watch":
            stop = raw_watchers(endpoints, args.watchers, b"bare/")
            try:
                n, dt = asyncio.run(bare_aio(*common))
            finally:
                watch = stop()
            return n, dt, watch
        return *asyncio.run(recorded_aio(*common, hist, args.watchers if name == "watched" else 0)), None
    return *(bare(*common) if name == "bare" else recorded(*common, hist)), None


def run_mode(
    mode: str,
    names: list[str],
    endpoints: list[str],
    procs: list[subprocess.Popen[bytes]],
    args: argparse.Namespace,
    hist_dir: str,
) -> None:
    rates: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    etcd: dict[str, list[float]] = {n: [] for n in names}
    watch_us: list[tuple[float, float]] = []
    for r in range(args.rounds):
        hist = f"{hist_dir}/history-{mode}-{r}.jsonl"
        for name in names if r % 2 == 0 else names[::-1]:
            c0, e0 = cpu_seconds(), cluster_cpu_seconds(procs)
            n, dt, watch = run_loop(mode, name, endpoints, args, hist)
            us = 1e6 * (cpu_seconds() - c0) / max(n, 1)
            etcd[name].append(1e6 * (cluster_cpu_seconds(procs) - e0) / max(n, 1))
            extra = f" ({describe(hist)})" if name in ("recorded", "watched") else ""
            if watch is not None:
                msgs, watch_cpu = watch
                watch_us.append((1e6 * watch_cpu / max(n, 1), 1e6 * watch_cpu / max(msgs, 1)))
                us += watch_us[-1][0]
                extra = f" (watcher process: {msgs} messages, {watch_us[-1][1]:.1f} us each)"
            rates[name].append(n / dt)
            cpu[name].append(us)
            print(
                f"{mode:6s} round {r}: {name:10s} {n:7d} acked puts in {dt:5.2f} s = {n / dt:6.0f}/s, "
                f"client CPU {us:5.0f} us/put, etcd CPU {etcd[name][-1]:5.0f} us/put{extra}"
            )
    med = {
        k: (statistics.median(rates[k]), statistics.median(cpu[k]), statistics.median(etcd[k])) for k in names
    }
    (b, cb, eb), (rr, cr, _) = med["bare"], med["recorded"]
    print(
        f"{mode:6s} MEDIAN bare {b:.0f}/s, recorded {rr:.0f}/s: throughput overhead {100 * (b - rr) / b:.1f}%; "
        f"client CPU {cb:.0f} vs {cr:.0f} us/put: CPU overhead {100 * (cr - cb) / cb:.1f}%"
    )
    if "watched" in rates:
        w, (bw, cw, ew) = med["watched"][0], med["bare+watch"]
        print(
            f"{mode:6s} MEDIAN recorded with {args.watchers} watchers per member {w:.0f}/s = "
            f"{100 * w / b:.0f}% of bare (target >= 90%); bare with unrecorded watchers {bw:.0f}/s = "
            f"{100 * bw / b:.0f}% of bare (the ceiling here); recorded/ceiling {100 * w / bw:.0f}%"
        )
        per_put, per_msg = (statistics.median(x) for x in zip(*watch_us, strict=True))
        # With the CPU saturated, a put's whole CPU cost sets the rate.
        print(
            f"{mode:6s} WATCH COST unrecorded watchers in their own process: {per_msg:.1f} us of CPU per "
            f"message, {per_put:.0f} us per put; a bare put costs {cb + eb:.0f} us of client + etcd CPU, a "
            f"watched one {cw + ew:.0f} us: on {os.cpu_count()} saturated cores, watching alone caps the rate "
            f"at ~{100 * (cb + eb) / (cw + ew):.0f}% of bare, whatever records it"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--etcd", default="/usr/bin/etcd", help="etcd binary (default: %(default)s)")
    ap.add_argument("--members", type=int, default=3)
    ap.add_argument("--inflight", type=int, default=16, help="requests in flight (tasks or threads)")
    ap.add_argument("--seconds", type=float, default=10.0, help="time limit of each loop")
    ap.add_argument("--max-ops", type=int, default=200_000, help="op budget of each loop")
    ap.add_argument("--rounds", type=int, default=3, help="alternating bare/recorded rounds")
    ap.add_argument("--mode", choices=["aio", "thread", "both"], default="both", help="client flavour")
    ap.add_argument(
        "--watchers",
        type=int,
        default=3,
        help="recorded prefix watchers per member in the aio 'watched' loop (0: no such loop)",
    )
    ap.add_argument(
        "--history-dir",
        default=tempfile.gettempdir(),
        help="where the recorded loops write their history (default: %(default)s, i.e. a real disk "
        "with the writer's periodic fsync; the etcd data directories are in /dev/shm)",
    )
    args = ap.parse_args()

    base = tempfile.mkdtemp(prefix="etcd-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    hist_dir = tempfile.mkdtemp(prefix="etcd-bench-history-", dir=args.history_dir)
    procs: list[subprocess.Popen[bytes]] = []
    old = signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        procs, endpoints = start_cluster(args.etcd, args.members, base)
        print(f"cluster: {args.members} x {args.etcd} at {', '.join(endpoints)}; {args.inflight} in flight")
        modes = ["aio", "thread"] if args.mode == "both" else [args.mode]
        for mode in modes:
            names = ["bare", "recorded"] + (
                ["bare+watch", "watched"] if mode == "aio" and args.watchers else []
            )
            run_mode(mode, names, endpoints, procs, args, hist_dir)
    finally:
        stop_cluster(procs)
        signal.signal(signal.SIGTERM, old)
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(hist_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
