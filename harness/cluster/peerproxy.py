"""A TCP relay on every member's peer URL, the one way to add real latency on this kernel.

There is no ``tc netem`` here, so latency is made in user space: each member advertises a
peer URL on the harness's side of the network; the relay forwards to the member's real
peer listener and holds every chunk for the configured one-way delay, in both directions,
so a round trip through it grows by twice the delay. The relay runs on one asyncio loop in
a daemon thread. Partitions still work with it in place because they drop what a member
sends to another's advertised endpoint, whichever address that is.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Route:
    name: str
    listen_host: str
    listen_port: int
    target_host: str
    target_port: int
    delay_s: float = 0.0
    bytes_forwarded: int = 0
    chunks: int = 0
    connections: int = 0
    server: asyncio.AbstractServer | None = None
    writers: set[asyncio.StreamWriter] = field(default_factory=set)


class PeerProxy:
    def __init__(self, name: str = "proxy"):
        self.name = name
        self.routes: dict[str, Route] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"peerproxy-{name}", daemon=True)
        self._thread.start()

    def _submit(self, coro, timeout: float = 10.0):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def add_route(
        self, name: str, listen_host: str, listen_port: int, target_host: str, target_port: int
    ) -> None:
        route = Route(name, listen_host, listen_port, target_host, target_port)
        self.routes[name] = route
        self._submit(self._serve(route))

    async def _serve(self, route: Route) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # Cancelled at shutdown: end quietly. A handler task that ends cancelled makes
            # asyncio's stream callback print a CancelledError traceback (Python 3.11).
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay(route, reader, writer)

        route.server = await asyncio.start_server(
            handle, route.listen_host, route.listen_port, reuse_address=True
        )

    async def _relay(
        self, route: Route, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter
    ) -> None:
        route.connections += 1
        try:
            s_reader, s_writer = await asyncio.wait_for(
                asyncio.open_connection(route.target_host, route.target_port), timeout=3
            )
        except (TimeoutError, OSError):
            c_writer.close()
            return
        route.writers.update((c_writer, s_writer))
        try:
            await asyncio.gather(
                self._pump(route, c_reader, s_writer),
                self._pump(route, s_reader, c_writer),
                return_exceptions=True,
            )
        finally:
            for w in (c_writer, s_writer):
                route.writers.discard(w)
                with contextlib.suppress(Exception):
                    w.close()

    async def _pump(self, route: Route, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read and forward in order; each chunk leaves ``delay_s`` after it arrived."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
                route.bytes_forwarded += len(data)
                route.chunks += 1
            with contextlib.suppress(Exception):
                writer.write_eof()

        sender = asyncio.ensure_future(send())
        try:
            while True:
                data = await reader.read(65536)
                await queue.put((time.monotonic() + route.delay_s, data))
                if not data:
                    break
            await sender
        except (ConnectionError, OSError):
            sender.cancel()
            with contextlib.suppress(Exception):
                writer.close()

    def set_delay(self, names: list[str] | None, delay_ms: float) -> None:
        for name, r in self.routes.items():
            if names is None or name in names:
                r.delay_s = delay_ms / 1000.0

    def delays_ms(self) -> dict[str, float]:
        return {n: r.delay_s * 1000 for n, r in self.routes.items()}

    def close(self) -> None:
        async def shutdown() -> None:
            for r in self.routes.values():
                if r.server is not None:
                    r.server.close()
                for w in list(r.writers):
                    with contextlib.suppress(Exception):
                        w.close()
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self._submit(shutdown(), timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
