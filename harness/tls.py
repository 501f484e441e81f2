"""Which TLS credentials reach which endpoint, for every client of the harness.

A TLS run's cluster makes its own CA (:mod:`harness.cluster.certs`) and says here which
client URLs it serves; the gRPC clients, the admin HTTP calls, the watchers and the
self-test's interposer all look an ``https://`` endpoint up here and verify the server
against that CA while presenting the client certificate etcd asks for. A registry
rather than credentials passed down every call: the same endpoint strings flow through
the recorder, the traffic, the faults and the checks, and only the scheme says TLS.
"""

from __future__ import annotations

import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from harness.errors import HarnessError


@dataclass(frozen=True)
class Credentials:
    """PEM files of one run's CA and the client certificate and key the harness presents."""

    ca: Path
    cert: Path
    key: Path

    def pem(self) -> tuple[bytes, bytes, bytes]:
        return self.ca.read_bytes(), self.cert.read_bytes(), self.key.read_bytes()


V = TypeVar("V")


class TlsError(HarnessError):
    """An https endpoint no credentials are known for; one line for the CLI."""


def hostport(endpoint: str) -> str:
    for scheme in ("https://", "http://"):
        endpoint = endpoint.removeprefix(scheme)
    return endpoint.rstrip("/")


class ByEndpoint(Generic[V]):
    """What a run registered for its endpoints, found whatever scheme or trailing slash
    a caller spells an endpoint with; thread-safe. Also the registry of :mod:`harness.auth`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by: dict[str, V] = {}

    def put(self, endpoints: list[str], value: V) -> None:
        with self._lock:
            for ep in endpoints:
                self._by[hostport(ep)] = value

    def forget(self, endpoints: list[str]) -> None:
        with self._lock:
            for ep in endpoints:
                self._by.pop(hostport(ep), None)

    def get(self, endpoint: str) -> V | None:
        with self._lock:
            return self._by.get(hostport(endpoint))


_credentials: ByEndpoint[Credentials] = ByEndpoint()


def is_tls(endpoint: str) -> bool:
    return endpoint.startswith("https://")


def trust(endpoints: list[str], creds: Credentials) -> None:
    _credentials.put(endpoints, creds)


def forget(endpoints: list[str]) -> None:
    _credentials.forget(endpoints)


def registered(endpoint: str) -> Credentials | None:
    return _credentials.get(endpoint)


def credentials_for(endpoint: str) -> Credentials:
    found = _credentials.get(endpoint)
    if found is None:
        raise TlsError(f"{endpoint}: no CA is known for this https endpoint")
    return found


def grpc_credentials(endpoint: str) -> Any:
    import grpc

    ca, cert, key = credentials_for(endpoint).pem()
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


def ssl_context(endpoint: str) -> ssl.SSLContext:
    creds = credentials_for(endpoint)
    ctx = ssl.create_default_context(cafile=str(creds.ca))
    ctx.load_cert_chain(str(creds.cert), str(creds.key))
    return ctx


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="ehx-tls-"))
