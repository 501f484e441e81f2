"""gRPC interceptors that send a client's auth token with every call but Authenticate.

An interceptor rather than ``metadata=`` at each call site: unary calls, watch streams
and keep-alive streams all go through the channel, and only a channel to a member of an
``--auth`` run gets one (:mod:`harness.auth`), so other runs pay nothing.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import grpc.aio

from harness import auth

AUTHENTICATE = "/etcdserverpb.Auth/Authenticate"
#: After a failed Authenticate, calls fail with the same error this long without asking
#: again: a deleted user would otherwise double every request.
RETRY_AFTER_S = 0.2


class _Details(
    collections.namedtuple(
        "_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class _Failures:
    """The last Authenticate failure, raised again for a short while."""

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self.at = 0.0

    def recent(self) -> BaseException | None:
        return self.error if self.error is not None and time.monotonic() - self.at < RETRY_AFTER_S else None

    def note(self, exc: BaseException) -> None:
        self.error, self.at = exc, time.monotonic()


def _with_token(metadata: Any, token: str | None) -> list[tuple[str, str]] | Any:
    return metadata if token is None else [*(metadata or ()), ("token", token)]


class TokenInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self, tokens: auth.TokenSource):
        self.tokens = tokens
        self.failures = _Failures()

    def _details(self, d: Any) -> Any:
        if d.method == AUTHENTICATE:
            return d
        if (recent := self.failures.recent()) is not None:
            raise recent
        try:
            token = self.tokens.get()
        except Exception as exc:
            self.failures.note(exc)
            raise
        return _Details(
            d.method,
            d.timeout,
            _with_token(d.metadata, token),
            d.credentials,
            getattr(d, "wait_for_ready", None),
            getattr(d, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)


class AsyncTokenSource(auth.Tokens):
    """:class:`harness.auth.TokenSource` for the asyncio client."""

    def __init__(self, endpoint: str, who: auth.Who, authenticate: Callable[[str, str], Awaitable[str]]):
        super().__init__(endpoint, who)
        self._authenticate = authenticate
        self._lock: asyncio.Lock | None = None

    async def get(self) -> str | None:
        realm = auth.realm_for(self.endpoint)
        if realm is None:
            return None
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token is None:
                self._token = await self._authenticate(*realm.credentials(self.who))
            return self._token


class AsyncTokenInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    def __init__(self, tokens: AsyncTokenSource):
        self.tokens = tokens
        self.failures = _Failures()

    async def _details(self, d: Any) -> Any:
        if d.method in (AUTHENTICATE, AUTHENTICATE.encode()):
            return d
        if (recent := self.failures.recent()) is not None:
            raise recent
        try:
            token = await self.tokens.get()
        except Exception as exc:
            self.failures.note(exc)
            raise
        metadata = grpc.aio.Metadata(*(d.metadata or ()))
        if token is not None:
            metadata.add("token", token)
        return grpc.aio.ClientCallDetails(d.method, d.timeout, metadata, d.credentials, d.wait_for_ready)

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(await self._details(details), request)

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(await self._details(details), request)

    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(await self._details(details), requests)

    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(await self._details(details), requests)
