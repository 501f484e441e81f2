"""One watcher on its own gRPC stream, read as a sequence of messages.

One watcher per stream keeps a stream's fate and a watcher's fate the same: when the
stream breaks, the iteration yields one ``error`` message and stops. Nothing reconnects
behind the caller's back, because a silent re-watch could skip or repeat revisions and
the history must show the break.

:class:`Watch` is read by a thread, :class:`AsyncWatch` by an asyncio task. The harness's
watchers use the latter: a synchronous stream costs a thread that wakes grpc's poller for
every message, and a few prefix watchers that way cost the traffic more than half of its
write rate on two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import grpc
import grpc.aio

from harness.client import convert
from harness.client.errors import EtcdError
from harness.client.proto import etcd_pb2 as pb

WatchKind = Literal["created", "events", "progress", "canceled", "error"]


@dataclass(slots=True)
class WatchMessage:
    """One response of the stream (or its end). Fields follow the history's watch record."""

    kind: WatchKind
    header: dict[str, int] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    watch_id: int = 0
    compact_revision: int = 0
    cancel_reason: str = ""
    error: EtcdError | None = None
    #: How many responses etcd split this one into (a watch created with ``fragment``).
    fragments: int = 0


def message(resp: pb.WatchResponse) -> WatchMessage:
    """Classify one WatchResponse.

    ``created`` and ``canceled`` are flags; a response with neither and no events is a
    progress notification (periodic, or the answer to a progress request, whose watch_id
    is -1 on etcd >= 3.4). Both flags: etcd refused to create the watcher (a permission,
    a stale auth token), so nothing follows on it.
    """
    kind: WatchKind
    if resp.canceled:
        kind = "canceled"
    elif resp.created:
        kind = "created"
    elif resp.events:
        kind = "events"
    else:
        kind = "progress"
    return WatchMessage(
        kind=kind,
        header=convert.header(resp.header),
        events=[convert.event(e) for e in resp.events],
        watch_id=resp.watch_id,
        compact_revision=resp.compact_revision,
        cancel_reason=resp.cancel_reason,
    )


_FILTERS = {"noput": pb.WatchCreateRequest.NOPUT, "nodelete": pb.WatchCreateRequest.NODELETE}


def create_request(
    key: bytes,
    range_end: bytes = b"",
    *,
    start_revision: int = 0,
    prev_kv: bool = False,
    progress_notify: bool = False,
    filters: Sequence[str] = (),
    fragment: bool = False,
) -> pb.WatchCreateRequest:
    """``filters``: ``noput`` and/or ``nodelete``, the event types etcd leaves out;
    ``fragment``: etcd may split a response larger than its --max-request-bytes."""
    return pb.WatchCreateRequest(
        key=key,
        range_end=range_end,
        start_revision=start_revision,
        prev_kv=prev_kv,
        progress_notify=progress_notify,
        filters=[_FILTERS[f] for f in filters],
        fragment=fragment,
    )


class _Joiner:
    """Fragments of one response (``fragment`` set on all but the last) are joined
    before they are yielded, as etcd's own client does: one response is one batch of
    whole revisions, and the checks read it that way."""

    def __init__(self) -> None:
        self.parts: list[pb.WatchResponse] = []

    def join(self, resp: pb.WatchResponse) -> WatchMessage | None:
        """The message ``resp`` completes, or None while fragments are still coming."""
        if resp.fragment:
            self.parts.append(resp)
            return None
        msg = message(resp)
        if self.parts:
            msg.events = [convert.event(e) for p in self.parts for e in p.events] + msg.events
            msg.kind, msg.fragments = "events", len(self.parts) + 1
            self.parts = []
        return msg


def _ended() -> WatchMessage:
    return WatchMessage(kind="error", error=EtcdError("UNKNOWN", "watch stream ended by the server"))


class Watch:
    """A watch stream. Iterate it for :class:`WatchMessage`; ``close()`` from any thread.

    Iteration ends after a ``canceled`` message (etcd sends no more for this watcher),
    after an ``error`` message (the stream broke: the error says how), or quietly after
    ``close()``.
    """

    def __init__(self, stub: Any, create: pb.WatchCreateRequest):
        self.create_request = create
        self._requests: queue.SimpleQueue[pb.WatchRequest | None] = queue.SimpleQueue()
        self._requests.put(pb.WatchRequest(create_request=create))
        self._closed = threading.Event()
        self.watch_id: int | None = None
        self._call = stub.Watch(self._request_iter())

    def _request_iter(self) -> Iterator[pb.WatchRequest]:
        while True:
            req = self._requests.get()
            if req is None:
                return
            yield req

    def request_progress(self) -> None:
        """Ask for a progress notification (etcd >= 3.4): the current revision, once
        every event up to it has been sent on this stream."""
        self._requests.put(pb.WatchRequest(progress_request=pb.WatchProgressRequest()))

    def cancel(self) -> None:
        """Ask etcd to cancel the watcher; a ``canceled`` message follows."""
        if self.watch_id is not None:
            self._requests.put(pb.WatchRequest(cancel_request=pb.WatchCancelRequest(watch_id=self.watch_id)))

    def close(self) -> None:
        self._closed.set()
        self._requests.put(None)
        self._call.cancel()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[WatchMessage]:
        joiner = _Joiner()
        try:
            for resp in self._call:
                msg = joiner.join(resp)
                if msg is None:
                    continue
                if msg.kind == "created":
                    self.watch_id = msg.watch_id
                yield msg
                if msg.kind == "canceled":
                    self.close()
                    return
        except grpc.RpcError as exc:
            if self._closed.is_set():
                return
            yield WatchMessage(kind="error", error=EtcdError.from_rpc(exc))
            return
        if not self._closed.is_set():
            yield _ended()


class AsyncWatch:
    """:class:`Watch` on ``grpc.aio``: iterate it with ``async for`` in the loop that
    opened it; every method must be called from that loop too."""

    def __init__(self, stub: Any, create: pb.WatchCreateRequest):
        self.create_request = create
        self.watch_id: int | None = None
        self._closed = False
        self._call = stub.Watch()
        self._writing = asyncio.Lock()

    async def _send(self, req: pb.WatchRequest) -> None:
        """One write at a time, in order; one that meets a broken stream is dropped,
        since the reader sees the break and records it."""
        async with self._writing:
            with contextlib.suppress(grpc.aio.AioRpcError, grpc.aio.UsageError, RuntimeError):
                await self._call.write(req)

    async def request_progress(self) -> None:
        await self._send(pb.WatchRequest(progress_request=pb.WatchProgressRequest()))

    def close(self) -> None:
        self._closed = True
        self._call.cancel()

    async def __aiter__(self) -> AsyncIterator[WatchMessage]:
        joiner = _Joiner()
        await self._send(pb.WatchRequest(create_request=self.create_request))
        try:
            while True:
                resp = await self._call.read()
                if resp is grpc.aio.EOF:
                    break
                msg = joiner.join(resp)
                if msg is None:
                    continue
                if msg.kind == "created":
                    self.watch_id = msg.watch_id
                yield msg
                if msg.kind == "canceled":
                    self.close()
                    return
        except grpc.aio.AioRpcError as exc:
            if not self._closed:
                yield WatchMessage(kind="error", error=EtcdError.from_rpc(exc))
            return
        except asyncio.CancelledError:
            # Reading a call closed under it raises this; any other cancellation is the task's.
            if not self._closed:
                raise
            return
        if not self._closed:
            yield _ended()
