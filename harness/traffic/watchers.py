"""Watchers: one thread per watch spec of the plan, every message recorded.

A broken stream is recorded as such and a new watch (with its own id) is opened from the
revision after the last one seen: the history shows the break and the resumption, so
the watch check can hold each stream to etcd's guarantees separately.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from harness.client.etcd import EtcdClient
from harness.client.recorder import Clock, Counter, RecordedWatch, Recorder
from harness.history.jsonl import HistoryWriter
from harness.traffic.ops import prefix_end
from harness.traffic.plan import Plan, WatchSpec, key_name, key_prefix

MAX_REOPENS = 500
PROGRESS_EVERY = 1.0


@dataclass
class Watcher:
    spec: WatchSpec
    endpoint: str
    client_id: int
    next_revision: int = 1
    last_revision: int = 0
    messages: int = 0
    current: RecordedWatch | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Watchers:
    """All watchers of a plan; ``start`` them, then ``finish(revision)`` at the end."""

    def __init__(
        self, plan: Plan, endpoints: list[str], writer: HistoryWriter, clock: Clock, ids: Counter, watch_ids: Counter,
        *, client_base: int,
    ):
        self.plan = plan
        self.writer = writer
        self.clock = clock
        self.ids = ids
        self.watch_ids = watch_ids
        self.stop = threading.Event()
        self.target_revision: int | None = None
        self.watchers = [
            Watcher(spec, endpoints[spec.member % len(endpoints)], client_base + spec.watcher) for spec in plan.watchers
        ]
        self.threads: list[threading.Thread] = []

    def start(self, deadline: float) -> None:
        for w in self.watchers:
            t = threading.Thread(target=self._run, args=(w, deadline), name=f"watcher-{w.spec.watcher}", daemon=True)
            t.start()
            self.threads.append(t)
        if any(w.spec.progress_notify for w in self.watchers):
            t = threading.Thread(target=self._ask_progress, args=(deadline,), name="watch-progress", daemon=True)
            t.start()
            self.threads.append(t)

    def _request(self, spec: WatchSpec) -> tuple[str, str | None]:
        if spec.prefix:
            p = key_prefix(self.plan.profile)
            return p, prefix_end(p)
        return key_name(self.plan.profile, spec.key), None

    def _run(self, w: Watcher, deadline: float) -> None:
        key, range_end = self._request(w.spec)
        with EtcdClient(w.endpoint, timeout=5.0) as client:
            rec = Recorder(client, self.writer, self.clock, self.ids, w.client_id, watch_ids=self.watch_ids)
            for _ in range(MAX_REOPENS):
                if self._done(w) or time.monotonic() > deadline + 15:
                    return
                try:
                    stream = rec.watch(
                        key,
                        range_end,
                        start_revision=w.next_revision,
                        prev_kv=w.spec.prev_kv,
                        progress_notify=w.spec.progress_notify,
                    )
                except Exception:  # noqa: BLE001 - the member may be down; try again shortly
                    time.sleep(0.2)
                    continue
                with w.lock:
                    w.current = stream
                for msg in stream:
                    w.messages += 1
                    if msg.events:
                        w.next_revision = msg.events[-1]["kv"]["mod_revision"] + 1
                    if msg.header and msg.kind in ("events", "progress"):
                        w.last_revision = max(w.last_revision, int(msg.header.get("revision") or 0))
                    if msg.kind == "canceled" and msg.compact_revision:
                        w.next_revision = msg.compact_revision
                    if self._done(w):
                        break
                with w.lock:
                    w.current = None
                stream.close()
                if not self._done(w):
                    time.sleep(0.2)

    def _done(self, w: Watcher) -> bool:
        if not self.stop.is_set():
            return False
        target = self.target_revision
        return target is None or w.last_revision >= target

    def _ask_progress(self, deadline: float) -> None:
        while not self.stop.is_set() and time.monotonic() < deadline + 15:
            time.sleep(PROGRESS_EVERY)
            self._progress_all()

    def _progress_all(self) -> None:
        for w in self.watchers:
            with w.lock:
                cur = w.current
            if cur is not None:
                try:
                    cur.request_progress()
                except Exception:  # noqa: BLE001, S110 - a broken stream is recorded by its reader
                    pass

    def finish(self, revision: int | None, timeout: float = 5.0) -> None:
        """Let every watcher catch up to ``revision`` (bounded), then close them all."""
        self.target_revision = revision
        self.stop.set()
        end = time.monotonic() + timeout
        while time.monotonic() < end and not all(self._done(w) for w in self.watchers):
            self._progress_all()
            time.sleep(0.1)
        for w in self.watchers:
            with w.lock:
                cur = w.current
            if cur is not None:
                cur.close()
        for t in self.threads:
            t.join(timeout=2.0)
