"""Records every call of one client into the history, as it completes.

A record is written after the call returns, in one line, so the file only ever holds
completed operations (a crash loses at most the calls in flight, and those are exactly
the ones whose outcome nobody saw). Failed calls are classified by
:mod:`harness.client.outcome`. The only work added to a call is two clock reads, one
struct and one encoded line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from harness.client import convert
from harness.client.etcd import EtcdClient
from harness.client.ops import execute
from harness.client.outcome import classify, error_info
from harness.client.watch import Watch, WatchMessage
from harness.history.jsonl import HistoryWriter
from models.history import ErrorInfo, OpRecord, StatusRecord, WatchRecord
from models.operation import Request


class Clock:
    """Nanoseconds since the start of the run (time 0 of the history)."""

    def __init__(self, t0: int | None = None):
        self.t0 = time.monotonic_ns() if t0 is None else t0

    def __call__(self) -> int:
        return time.monotonic_ns() - self.t0


class Counter:
    """Thread-safe id source shared by all recorders of a run (op ids, watch ids)."""

    def __init__(self, start: int = 0):
        self._next = start
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            n = self._next
            self._next = n + 1
            return n


class Records:
    """The records one logical client's calls end in, whichever client (sync or asyncio)
    made them: its writer, clock, id source and the member it talks to."""

    def __init__(
        self,
        client: Any,
        writer: HistoryWriter,
        clock: Clock,
        ids: Counter,
        client_id: int,
        member: str | None,
        watch_ids: Counter | None = None,
    ):
        self.client = client
        self.writer = writer
        self.clock = clock
        self.ids = ids
        self.client_id = client_id
        self.member: str = member if member is not None else client.endpoint
        self.watch_ids = watch_ids if watch_ids is not None else Counter()

    def answered(self, op_id: int, op: Request, call: int, output: Any) -> OpRecord:
        return OpRecord(
            id=op_id, client=self.client_id, call=call, input=op, status="ok", ret=self.clock(),
            output=output, member=self.member,
        )  # fmt: skip

    def failed(self, op_id: int, op: Request, call: int, exc: Exception) -> OpRecord:
        """A call that raised: what the error says about its outcome (see outcome.py)."""
        ret = self.clock()
        status, output, err = classify(op, exc)
        return OpRecord(
            id=op_id, client=self.client_id, call=call, input=op, status=status, ret=ret,
            output=output, error=err, member=self.member,
        )  # fmt: skip

    def abandoned(self, op_id: int, op: Request, call: int, exc: BaseException) -> OpRecord:
        """A call cut short by the process (interrupt, cancellation): it may have reached
        etcd, so its outcome is unknown, and it has no return."""
        return OpRecord(
            id=op_id, client=self.client_id, call=call, input=op, status="unknown",
            error=error_info(exc), member=self.member,
        )  # fmt: skip


class Recorder(Records):
    """Runs operations for logical client ``client_id`` and records them.

    One recorder per logical client: the history's rule is that a client's operations
    never overlap, so a recorder must not be used from two threads at once (one thread
    per recorder; several recorders may share an :class:`EtcdClient`, writer, clock and
    counters).
    """

    def __init__(
        self,
        client: EtcdClient,
        writer: HistoryWriter,
        clock: Clock,
        ids: Counter,
        client_id: int,
        *,
        member: str | None = None,
        watch_ids: Counter | None = None,
    ):
        super().__init__(client, writer, clock, ids, client_id, member, watch_ids)
        self.client: EtcdClient = client

    def execute(self, op: Request, timeout: float | None = None) -> OpRecord:
        """Run ``op``, record it, and return the record (never raises for a failed call).

        An exception that is not an ordinary failure (KeyboardInterrupt, SystemExit) is
        recorded as ``unknown`` with no return time, then re-raised: the request may have
        reached etcd, and a write missing from the history would look like a phantom.
        """
        op_id, call = self.ids.next(), self.clock()
        try:
            output = execute(self.client, op, timeout)
        except Exception as exc:
            rec = self.failed(op_id, op, call, exc)
        except BaseException as exc:
            self.writer.write(self.abandoned(op_id, op, call, exc))
            raise
        else:
            rec = self.answered(op_id, op, call, output)
        self.writer.write(rec)
        return rec

    def watch(
        self,
        key: str,
        range_end: str | None = None,
        *,
        start_revision: int = 0,
        prev_kv: bool = False,
        progress_notify: bool = False,
        filters: Sequence[str] = (),
        fragment: bool = False,
    ) -> RecordedWatch:
        """Open a watch whose every message is recorded; iterate the result."""
        w = self.client.watch(
            key.encode(),
            range_end.encode() if range_end else b"",
            start_revision=start_revision,
            prev_kv=prev_kv,
            progress_notify=progress_notify,
            filters=filters,
            fragment=fragment,
        )
        return RecordedWatch(self, w, self.watch_ids.next())

    def sample_status(self, *, hash_kv: bool = False, timeout: float | None = None) -> StatusRecord:
        """Record one Status (and optionally HashKV at the current revision) sample."""
        rec = status_sample(self.client, self.member, self.clock, 0 if hash_kv else None, timeout=timeout)
        self.writer.write(rec)
        return rec


def status_sample(
    client: EtcdClient, member: str, clock: Clock, hash_at: int | None, *, timeout: float | None = 5.0
) -> StatusRecord:
    """One Status of ``member``, and its HashKV at revision ``hash_at`` (0: the current
    one; None: none), errors included: the convergence check judges them."""
    sample = StatusRecord(time=0, member=member)
    try:
        st = client.status(timeout=timeout)
        sample.revision = st.header.revision
        sample.raft_index = st.raftIndex
        sample.raft_applied_index = st.raftAppliedIndex
        sample.raft_term = st.raftTerm
        sample.leader = st.leader
        sample.member_id = st.header.member_id
        if hash_at is not None:
            h = client.hash_kv(hash_at, timeout=timeout)
            sample.hash = h.hash
            sample.hash_revision = hash_at or h.header.revision
            sample.compact_revision = h.compact_revision
    except Exception as exc:  # noqa: BLE001 - recorded, judged by the convergence check
        sample.error = error_info(exc)
    sample.time = clock()
    return sample


class WatchLog:
    """Writes a watch's records: a ``request`` record when it is opened, one record per
    message as it arrives (time = arrival), and ``settled`` at the end of a run. Shared
    by the stream readers of both client flavours."""

    def __init__(self, records: Records, create: Any, watch_id: int):
        self.records = records
        self.id = watch_id
        self._write(event="request", request=convert.watch_request(create))

    def _write(self, **fields: Any) -> None:
        r = self.records
        r.writer.write(
            WatchRecord(watch=self.id, client=r.client_id, time=r.clock(), member=r.member, **fields)
        )

    def message(self, msg: WatchMessage) -> None:
        self._write(
            event=msg.kind,
            header=msg.header,
            events=msg.events,
            compact_revision=msg.compact_revision,
            cancel_reason=msg.cancel_reason,
            error=ErrorInfo(code=msg.error.code, message=msg.error.message) if msg.error else None,
            fragments=msg.fragments,
        )

    def settled(self, revision: int) -> None:
        """Record that this stream stayed open through the wait at the end of a run that
        began with its member at ``revision``: what it covers up to there is overdue."""
        self._write(event="settled", header={"revision": revision})


class RecordedWatch(WatchLog):
    """A :class:`Watch` whose every message is recorded; iterate it."""

    def __init__(self, recorder: Recorder, watch: Watch, watch_id: int):
        super().__init__(recorder, watch.create_request, watch_id)
        self.watch = watch

    def __iter__(self) -> Iterator[WatchMessage]:
        for msg in self.watch:
            self.message(msg)
            yield msg

    def request_progress(self) -> None:
        self.watch.request_progress()

    def cancel(self) -> None:
        self.watch.cancel()

    def close(self) -> None:
        self.watch.close()

    def __enter__(self) -> RecordedWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
