"""The same client on ``grpc.aio``, for traffic that keeps many requests in flight from
one thread.

On two cores shared with the cluster, the client's CPU per request decides throughput:
an asyncio loop with one grpc poller spends less per request than many threads waking
each other, and the gap grows with the number in flight. Requests, responses, errors
and channel options are exactly those of :class:`harness.client.etcd.EtcdClient`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
import grpc.aio

from harness import auth, tls
from harness.client.errors import EtcdError
from harness.client.etcd import channel_options, grpc_target
from harness.client.ops import prepare
from harness.client.proto import etcd_pb2 as pb
from harness.client.proto import etcd_pb2_grpc as rpc
from harness.client.recorder import Clock, Counter, Records, WatchLog
from harness.client.tokens import AsyncTokenInterceptor, AsyncTokenSource
from harness.client.watch import AsyncWatch, WatchMessage, create_request
from harness.history.jsonl import HistoryWriter
from models.history import OpRecord
from models.operation import Request


class AsyncEtcdClient:
    """An asyncio client for the member at ``endpoint``; create it inside the loop."""

    #: Streams are driven with ``async for`` (see :func:`harness.client.ops.prepare`).
    asynchronous = True

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = 5.0,
        options: Sequence[tuple[str, Any]] | None = None,
        who: auth.Who = "root",
    ):
        self.endpoint = endpoint
        self.timeout = timeout
        opts = list(options) if options is not None else channel_options()
        self.tokens: AsyncTokenSource | None = None
        interceptors = None
        if auth.realm_for(endpoint) is not None:
            self.tokens = AsyncTokenSource(endpoint, who, self._authenticate)
            interceptors = [AsyncTokenInterceptor(self.tokens)]
        self._channel = (
            grpc.aio.secure_channel(
                grpc_target(endpoint), tls.grpc_credentials(endpoint), options=opts, interceptors=interceptors
            )
            if tls.is_tls(endpoint)
            else grpc.aio.insecure_channel(grpc_target(endpoint), options=opts, interceptors=interceptors)
        )
        self.auth = rpc.AuthStub(self._channel)
        self.kv = rpc.KVStub(self._channel)
        self.lease = rpc.LeaseStub(self._channel)
        self.cluster = rpc.ClusterStub(self._channel)
        self.maintenance = rpc.MaintenanceStub(self._channel)
        self.watch_stub = rpc.WatchStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncEtcdClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(self, method: Any, request: Any, timeout: float | None = None) -> Any:
        try:
            return await method(request, timeout=self.timeout if timeout is None else timeout)
        except grpc.aio.AioRpcError as exc:
            err = EtcdError.from_rpc(exc)
            if self.tokens is not None:
                self.tokens.drop(err.message)
            raise err from None

    async def _authenticate(self, name: str, password: str) -> str:
        req = pb.AuthenticateRequest(name=name, password=password)
        resp: pb.AuthenticateResponse = await self.call(self.auth.Authenticate, req)
        return resp.token

    def watch(self, create: pb.WatchCreateRequest) -> AsyncWatch:
        """Open a stream with one watcher (see :class:`AsyncWatch`); no deadline: close it."""
        return AsyncWatch(self.watch_stub, create)

    async def status(self, *, timeout: float | None = None) -> pb.StatusResponse:
        resp: pb.StatusResponse = await self.call(self.maintenance.Status, pb.StatusRequest(), timeout)
        return resp


async def aexecute(client: AsyncEtcdClient, op: Request, timeout: float | None = None) -> dict[str, Any]:
    """:func:`harness.client.ops.execute` for the asyncio client."""
    method, request, output = prepare(client, op)
    return output(await client.call(method, request, timeout))


class AsyncRecorder(Records):
    """:class:`harness.client.recorder.Recorder` for the asyncio client: one per logical
    client, never two of its operations at once."""

    def __init__(
        self,
        client: AsyncEtcdClient,
        writer: HistoryWriter,
        clock: Clock,
        ids: Counter,
        client_id: int,
        *,
        member: str | None = None,
        watch_ids: Counter | None = None,
    ):
        super().__init__(client, writer, clock, ids, client_id, member, watch_ids)
        self.client: AsyncEtcdClient = client

    async def execute(self, op: Request, timeout: float | None = None) -> OpRecord:
        op_id, call = self.ids.next(), self.clock()
        try:
            output = await aexecute(self.client, op, timeout)
        except Exception as exc:
            rec = self.failed(op_id, op, call, exc)
        except BaseException as exc:  # asyncio.CancelledError among them: outcome unknown
            self.writer.write(self.abandoned(op_id, op, call, exc))
            raise
        else:
            rec = self.answered(op_id, op, call, output)
        self.writer.write(rec)
        return rec

    def watch(self, key: str, range_end: str | None = None, **options: Any) -> AsyncRecordedWatch:
        """Open a watch whose every message is recorded (``options``: those of
        :func:`~harness.client.watch.create_request`); iterate it with ``async for``."""
        create = create_request(key.encode(), range_end.encode() if range_end else b"", **options)
        return AsyncRecordedWatch(self, self.client.watch(create), self.watch_ids.next())


class AsyncRecordedWatch(WatchLog):
    """An :class:`AsyncWatch` whose every message is recorded, for ``async for``."""

    def __init__(self, recorder: AsyncRecorder, watch: AsyncWatch, watch_id: int):
        super().__init__(recorder, watch.create_request, watch_id)
        self.watch = watch

    async def __aiter__(self) -> AsyncIterator[WatchMessage]:
        async for msg in self.watch:
            self.message(msg)
            yield msg

    async def request_progress(self) -> None:
        await self.watch.request_progress()

    def close(self) -> None:
        self.watch.close()
