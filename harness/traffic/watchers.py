"""Watchers: one asyncio task per watch spec of the plan, every message recorded.

A broken stream is recorded as such and a new watch (with its own id) is opened from the
revision after the last one seen: the history shows the break and the resumption, so
the watch check can hold each stream to etcd's guarantees separately.

All watchers share one event loop in a thread of their own, apart from the traffic's:
a stream per thread costs a thread wake-up and a trip through grpc's synchronous
machinery for every message, which with three prefix watchers per member took more than
half of the traffic's write rate on two cores (``bench/speed/client_throughput.py``).
A loop of their own keeps a watcher that stops reading (a slow consumer) or a burst of
events from delaying the traffic's requests, and lets the watchers outlive the traffic
for the end-of-run wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass

from harness.client.aio import AsyncEtcdClient, AsyncRecordedWatch, AsyncRecorder
from harness.client.etcd import EtcdClient
from harness.client.recorder import Clock, Counter
from harness.history.jsonl import HistoryWriter
from harness.traffic.ops import prefix_end
from harness.traffic.plan import Plan, WatchSpec, key_name, key_prefix
from models.history import NoteRecord

#: Client ids from here on are the harness's own (watchers, then sentinels and final reads).
WATCHER_CLIENT_BASE = 10_000
MAX_REOPENS = 500
PROGRESS_EVERY = 1.0
#: etcd's periodic progress notifications (on watchers that asked for them) every second,
#: instead of etcd's default ten minutes, so that a run sees some.
PROGRESS_NOTIFY_FLAG = "--experimental-watch-progress-notify-interval=1s"


def _applied_revision(endpoint: str) -> int | None:
    try:
        with EtcdClient(endpoint, timeout=2.0) as c:
            return int(c.status(timeout=2.0).header.revision)
    except Exception:  # noqa: BLE001 - a member that does not answer owes nothing here
        return None


@dataclass
class Watcher:
    spec: WatchSpec
    endpoint: str
    client_id: int
    next_revision: int = 1
    last_revision: int = 0
    target: int | None = None
    messages: int = 0
    #: The open stream; set in the watchers' loop (``finish`` only reads it from outside).
    current: AsyncRecordedWatch | None = None


class Watchers:
    """All watchers of a plan; ``start`` them, then ``finish(revision)`` at the end."""

    def __init__(
        self,
        plan: Plan,
        endpoints: list[str],
        writer: HistoryWriter,
        clock: Clock,
        ids: Counter,
        watch_ids: Counter,
        *,
        client_base: int,
    ):
        self.plan = plan
        self.writer = writer
        self.clock = clock
        self.ids = ids
        self.watch_ids = watch_ids
        self.stop = threading.Event()
        #: Set once every stream is closed: nothing reopens after that.
        self.closed = False
        self.request_progress = plan.request_progress
        self.watchers = [
            Watcher(spec, endpoints[spec.member % len(endpoints)], client_base + spec.watcher)
            for spec in plan.watchers
        ]
        self.thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()

    def start(self, deadline: float) -> None:
        if not self.watchers:
            return
        self.thread = threading.Thread(target=self._serve, args=(deadline,), name="watchers", daemon=True)
        self.thread.start()
        self._ready.wait(10.0)

    def _serve(self, deadline: float) -> None:
        try:
            asyncio.run(self._main(deadline))
        finally:
            self._ready.set()

    async def _main(self, deadline: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._ready.set()
        tasks = [self._guarded(w, deadline) for w in self.watchers]
        if self.request_progress:
            tasks.append(self._ask_progress(deadline))
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _guarded(self, w: Watcher, deadline: float) -> None:
        """A watcher that dies of a harness error says so in the history: its silence
        must not read as a stream that had nothing to say."""
        try:
            await self._run(w, deadline)
        except Exception as exc:  # noqa: BLE001 - recorded; the other watchers go on
            text = f"watcher {w.spec.watcher} stopped: {type(exc).__name__}: {exc}"
            self.writer.write(NoteRecord(time=self.clock(), text=text))

    def _request(self, spec: WatchSpec) -> tuple[str, str | None]:
        if spec.prefix:
            p = key_prefix(self.plan.profile)
            return p, prefix_end(p)
        return key_name(self.plan.profile, spec.key), None

    async def _run(self, w: Watcher, deadline: float) -> None:
        async with AsyncEtcdClient(w.endpoint, timeout=5.0) as client:
            rec = AsyncRecorder(
                client, self.writer, self.clock, self.ids, w.client_id, watch_ids=self.watch_ids
            )
            for _ in range(MAX_REOPENS):
                if self.closed or self._done(w) or time.monotonic() > deadline + 15:
                    return
                w.current = stream = self._open(rec, w)
                await self._read(w, stream, client)
                w.current = None
                stream.close()
                if not self._done(w):
                    await asyncio.sleep(0.2)

    def _open(self, rec: AsyncRecorder, w: Watcher) -> AsyncRecordedWatch:
        key, range_end = self._request(w.spec)
        return rec.watch(
            key,
            range_end,
            start_revision=w.next_revision,
            prev_kv=w.spec.prev_kv,
            progress_notify=w.spec.progress_notify,
            filters=w.spec.filters,
            fragment=w.spec.fragment,
        )

    async def _read(self, w: Watcher, stream: AsyncRecordedWatch, client: AsyncEtcdClient) -> None:
        n = 0
        async for msg in stream:
            n += 1
            w.messages += 1
            if msg.events:
                w.next_revision = msg.events[-1]["kv"]["mod_revision"] + 1
                w.last_revision = max(w.last_revision, w.next_revision - 1)
            if msg.kind == "canceled" and msg.compact_revision:
                w.next_revision = msg.compact_revision
            if msg.kind == "canceled" and client.tokens is not None:
                client.tokens.drop(msg.cancel_reason)
            if self._done(w) or (w.spec.recreate_every and n % w.spec.recreate_every == 0):
                return
            if w.spec.stall_every and w.messages % w.spec.stall_every == 0:
                await self._stall(w.spec.stall_s)

    async def _stall(self, seconds: float) -> None:
        """Stop reading the stream (a slow consumer), but never past the end of traffic:
        what a watcher owes at the end is judged on a reader that keeps up."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.stop.is_set():
            await asyncio.sleep(0.05)

    def _done(self, w: Watcher) -> bool:
        if not self.stop.is_set():
            return False
        return w.target is None or w.last_revision >= w.target

    def sentinels(self) -> dict[str, list[Watcher]]:
        """One key per watcher whose final write every one of them must see."""
        keys: dict[str, list[Watcher]] = {}
        for w in self.watchers:
            key, range_end = self._request(w.spec)
            keys.setdefault(key + "~end" if range_end else key, []).append(w)
        return keys

    def _owed(self) -> list[tuple[Watcher, AsyncRecordedWatch, int]]:
        """Per open stream, the revision up to which it owes every change once the wait
        is over: its sentinel's, or lower, what its member had applied when the wait
        began (a member still catching up owes only what it has)."""
        applied: dict[str, int | None] = {}
        out = []
        for w in self.watchers:
            stream = w.current
            if stream is None or w.target is None:
                continue
            if w.endpoint not in applied:
                applied[w.endpoint] = _applied_revision(w.endpoint)
            have = applied[w.endpoint]
            if have is not None:
                out.append((w, stream, min(have, w.target)))
        return out

    async def _ask_progress(self, deadline: float) -> None:
        while not self.stop.is_set() and time.monotonic() < deadline + 15:
            await asyncio.sleep(PROGRESS_EVERY)
            for w in self.watchers:
                if w.current is not None:
                    # A broken stream is recorded by its reader.
                    with contextlib.suppress(Exception):
                        await w.current.request_progress()

    def finish(self, targets: dict[str, int] | None, timeout: float = 5.0) -> None:
        """Let every watcher see the revision of its sentinel write (bounded), then close.

        Sentinel writes, not progress requests, tell when a watcher has caught up:
        requested progress notifications can overtake events on etcd before 3.4.25 and
        3.5.8 (etcd-io/etcd#15220), and the watch check would rightly flag that.
        """
        for key, ws in self.sentinels().items():
            for w in ws:
                # A sentinel is a put: a watch without puts cannot show it caught up.
                w.target = None if "noput" in w.spec.filters else (targets or {}).get(key)
        owed = self._owed() if targets else []
        self.stop.set()
        end = time.monotonic() + timeout
        while time.monotonic() < end and not all(self._done(w) for w in self.watchers):
            time.sleep(0.05)
        if self._loop is not None and self.thread is not None and self.thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop ended on its own meanwhile
                self._loop.call_soon_threadsafe(self._close_all, owed)
        if self.thread is not None:
            self.thread.join(timeout=5.0)

    def _close_all(self, owed: list[tuple[Watcher, AsyncRecordedWatch, int]]) -> None:
        """In the loop, with no await between: no message can slip in between a stream's
        ``settled`` record and its close."""
        self.closed = True
        for w, stream, revision in owed:
            if w.current is stream and not self._done(w):
                stream.settled(revision)
        for w in self.watchers:
            if w.current is not None:
                w.current.close()
