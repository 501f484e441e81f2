"""The asyncio watch stream (the one the harness's watchers read) against a real etcd:
the same messages and records as the synchronous one, fragments joined, a compacted
start canceled, a break one ``error`` message, and a close under a blocked read quiet."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from harness.client.aio import AsyncEtcdClient, AsyncRecordedWatch, AsyncRecorder
from harness.client.recorder import Clock, Counter
from harness.client.watch import WatchMessage
from harness.history.jsonl import HistoryWriter, read_history
from models.history import Header
from tests.common.local_etcd import BINARIES, LocalEtcd, start_etcd

pytestmark = pytest.mark.integration


def put(key: str, value: str) -> dict[str, Any]:
    return {"kind": "put", "key": key, "value": value, "lease": 0, "prev_kv": False}


async def collect(w: AsyncRecordedWatch, out: list[WatchMessage], until: Any, seconds: float = 10) -> None:
    async def read() -> None:
        async for m in w:
            out.append(m)
            if until(out):
                return

    await asyncio.wait_for(read(), seconds)


async def wait(cond: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


def test_events_progress_and_records(etcd: LocalEtcd, tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    writer = HistoryWriter(path, Header(model="etcd"))

    async def main() -> tuple[list[WatchMessage], int, int]:
        async with AsyncEtcdClient(etcd.endpoint) as c:
            rec = AsyncRecorder(c, writer, Clock(), Counter(), 0)
            start = (await rec.execute(put("aw/a", "0"))).output["header"]["revision"]
            w = rec.watch("aw/", "aw0", start_revision=start, prev_kv=True)
            msgs: list[WatchMessage] = []
            reader = asyncio.create_task(collect(w, msgs, lambda ms: ms[-1].kind == "progress"))
            await wait(lambda: any(m.kind == "created" for m in msgs))
            await rec.execute(put("aw/a", "1"))
            await wait(lambda: sum(len(m.events) for m in msgs) >= 2)
            await w.request_progress()
            await reader
            w.close()
            return msgs, start, w.id

    msgs, start, watch_id = asyncio.run(main())
    writer.close()
    events = [e for m in msgs for e in m.events]
    assert [(e["type"], e["kv"]["value"]) for e in events] == [("PUT", "0"), ("PUT", "1")]
    assert events[0]["kv"]["mod_revision"] == start and events[1]["prev_kv"]["value"] == "0"
    assert msgs[-1].header is not None and msgs[-1].header["revision"] >= start + 1
    records = [r for r in read_history(str(path)).watches if r.watch == watch_id]
    assert records[0].event == "request" and records[0].request is not None
    assert records[0].request["start_revision"] == start and records[0].request["prev_kv"] is True
    assert [r.event for r in records[1:]] == [m.kind for m in msgs]


def test_fragments_are_joined(tmp_path: Path) -> None:
    node = start_etcd("3.4", BINARIES["3.4"], ("--max-request-bytes=65536",))
    writer = HistoryWriter(tmp_path / "h.jsonl", Header(model="etcd"))

    async def main() -> tuple[list[WatchMessage], list[int]]:
        async with AsyncEtcdClient(node.endpoint) as c:
            rec = AsyncRecorder(c, writer, Clock(), Counter(), 0)
            revs = [
                (await rec.execute(put(f"af/{i:02}", str(i % 10) * 40_000))).output["header"]["revision"]
                for i in range(24)
            ]
            w = rec.watch("af/", "af0", start_revision=revs[0], fragment=True)
            msgs: list[WatchMessage] = []
            await collect(w, msgs, lambda ms: sum(len(m.events) for m in ms) >= 24)
            w.close()
            return msgs, revs

    try:
        msgs, revs = asyncio.run(main())
    finally:
        writer.close()
        node.stop()
    joined = [m for m in msgs if m.kind == "events"]
    assert len(joined) == 1 and joined[0].fragments > 1
    assert [e["kv"]["mod_revision"] for e in joined[0].events] == revs


def test_compacted_start_is_canceled_and_a_break_is_one_error(own_etcd: LocalEtcd, tmp_path: Path) -> None:
    writer = HistoryWriter(tmp_path / "h.jsonl", Header(model="etcd"))

    async def main() -> tuple[list[WatchMessage], list[WatchMessage], int]:
        async with AsyncEtcdClient(own_etcd.endpoint) as c:
            rec = AsyncRecorder(c, writer, Clock(), Counter(), 0)
            r1 = (await rec.execute(put("ac/a", "1"))).output["header"]["revision"]
            r2 = (await rec.execute(put("ac/a", "2"))).output["header"]["revision"]
            await rec.execute({"kind": "compact", "revision": r2, "physical": True})
            canceled: list[WatchMessage] = []
            await collect(rec.watch("ac/a", start_revision=r1), canceled, lambda ms: False)
            broken: list[WatchMessage] = []
            w = rec.watch("ac/")
            reader = asyncio.create_task(collect(w, broken, lambda ms: False, 20))
            await wait(lambda: bool(broken))
            await asyncio.to_thread(own_etcd.stop)
            await reader
            return canceled, broken, r2

    canceled, broken, r2 = asyncio.run(main())
    writer.close()
    assert canceled[-1].kind == "canceled" and canceled[-1].compact_revision == r2
    assert [m.kind for m in broken] == ["created", "error"]
    assert broken[-1].error is not None and broken[-1].error.code == "UNAVAILABLE"


def test_close_under_a_blocked_read_ends_quietly(etcd: LocalEtcd, tmp_path: Path) -> None:
    writer = HistoryWriter(tmp_path / "h.jsonl", Header(model="etcd"))

    async def main() -> list[WatchMessage]:
        async with AsyncEtcdClient(etcd.endpoint) as c:
            w = AsyncRecorder(c, writer, Clock(), Counter(), 0).watch("aq/")
            msgs: list[WatchMessage] = []
            reader = asyncio.create_task(collect(w, msgs, lambda ms: False))
            await wait(lambda: bool(msgs))
            w.close()
            await reader
            return msgs

    msgs = asyncio.run(main())
    writer.close()
    assert [m.kind for m in msgs] == ["created"]
