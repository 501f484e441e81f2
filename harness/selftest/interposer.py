"""A gRPC interposer on loopback between the harness's clients and one etcd member.

It forwards every call of every service as raw bytes (so it needs no knowledge of the
API beyond which methods stream) and lets a :class:`Tamper` see each exchange: the
tamper may forward the request as is, forward it twice, not at all, or rewrite what
comes back. The clients, the recorder and the watchers talk to it exactly as to etcd
and cannot tell the difference, which is the point of a self-test.

grpcio's generic handlers are used instead of a TCP-level relay because the bugs must
be injected per message (one response, one watch event), which needs gRPC framing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc

from harness import tls
from harness.client.etcd import channel_options, grpc_target

#: Methods whose requests and responses are streams; every other method is unary.
STREAMING = frozenset({"/etcdserverpb.Watch/Watch", "/etcdserverpb.Lease/LeaseKeepAlive"})

Forward = Callable[[bytes], bytes]


class Tamper:
    """Passes everything through unchanged; bugs override what they break."""

    def unary(self, method: str, request: bytes, forward: Forward) -> bytes:
        return forward(request)

    def stream(self, method: str, responses: Iterator[bytes]) -> Iterator[bytes]:
        yield from responses


class Interposer:
    """Listens on ``127.0.0.1`` (a free port) and forwards to ``upstream`` (a client URL,
    or host:port). Before a TLS member it speaks TLS on both sides, with the run's CA:
    it serves the loopback certificate and presents the client one upstream."""

    def __init__(self, upstream: str, tamper: Tamper | None = None, *, max_streams: int = 64):
        self.upstream = upstream
        self.tamper = tamper or Tamper()
        self.secure = tls.is_tls(upstream)
        target = grpc_target(upstream)
        self._channel = (
            grpc.secure_channel(target, tls.grpc_credentials(upstream), options=channel_options())
            if self.secure
            else grpc.insecure_channel(target, options=channel_options())
        )
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_streams + 32, thread_name_prefix="interposer"),
            options=[("grpc.so_reuseport", 0)],
        )
        self._server.add_generic_rpc_handlers([_Handler(self)])
        if self.secure:
            creds = tls.credentials_for(upstream)
            self.port = self._server.add_secure_port("127.0.0.1:0", _server_credentials(creds))
            tls.trust([self.endpoint], creds)
        else:
            self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._lock = threading.Lock()
        self._unary: dict[str, Any] = {}
        self._streams: dict[str, Any] = {}

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.secure else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> Interposer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=0.5).wait(5)
        self._channel.close()
        if self.secure:
            tls.forget([self.endpoint])

    def __enter__(self) -> Interposer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def unary_stub(self, method: str) -> Any:
        with self._lock:
            if method not in self._unary:
                self._unary[method] = self._channel.unary_unary(method)
            return self._unary[method]

    def stream_stub(self, method: str) -> Any:
        with self._lock:
            if method not in self._streams:
                self._streams[method] = self._channel.stream_stream(method)
            return self._streams[method]


def _server_credentials(creds: tls.Credentials) -> grpc.ServerCredentials:
    folder = creds.ca.parent
    pair = ((folder / "loopback.key").read_bytes(), (folder / "loopback.crt").read_bytes())
    return grpc.ssl_server_credentials(
        [pair], root_certificates=creds.ca.read_bytes(), require_client_auth=True
    )


def _metadata(context: grpc.ServicerContext) -> list[tuple[str, str | bytes]]:
    return [(k, v) for k, v in (context.invocation_metadata() or ()) if not k.startswith(":")]


def _abort(context: grpc.ServicerContext, exc: grpc.RpcError) -> None:
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = exc.details() if hasattr(exc, "details") else str(exc)
    context.abort(code or grpc.StatusCode.UNKNOWN, details or "")


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, owner: Interposer):
        self.owner = owner

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = details.method
        if method in STREAMING:
            return grpc.stream_stream_rpc_method_handler(lambda it, ctx: self._stream(method, it, ctx))
        return grpc.unary_unary_rpc_method_handler(lambda req, ctx: self._unary(method, req, ctx))

    def _unary(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        stub = self.owner.unary_stub(method)
        metadata = _metadata(context)

        def forward(req: bytes) -> bytes:
            remaining = context.time_remaining()
            return stub(
                req,
                timeout=remaining if remaining is not None and remaining < 3600 else None,
                metadata=metadata,
            )  # type: ignore[no-any-return]

        try:
            return self.owner.tamper.unary(method, request, forward)
        except grpc.RpcError as exc:
            _abort(context, exc)
            raise

    def _stream(
        self, method: str, requests: Iterator[bytes], context: grpc.ServicerContext
    ) -> Iterator[bytes]:
        call = self.owner.stream_stub(method)(requests, metadata=_metadata(context))
        context.add_callback(call.cancel)
        try:
            yield from self.owner.tamper.stream(method, call)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED and not context.is_active():
                return
            _abort(context, exc)
        finally:
            with contextlib.suppress(Exception):
                call.cancel()
