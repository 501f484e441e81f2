"""Admin calls through etcd's JSON gRPC gateway, so cluster control needs no gRPC stubs.

Both 3.4 and 3.5 serve ``/v3/`` on the client URL. The gateway renders int64 fields as
JSON strings and bytes as base64; the helpers here convert them so callers see ints and
bytes. Proxies from the environment are ignored on purpose: every call goes straight to a
member address that the harness created, never through a configured HTTP proxy.
"""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from harness import auth, tls
from harness.errors import HarnessError

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_tls_openers: dict[tls.Credentials, urllib.request.OpenerDirector] = {}


def _opener_for(url: str) -> urllib.request.OpenerDirector:
    """The plain opener, or for an https member one that verifies it against the run's CA."""
    if not tls.is_tls(url):
        return _opener
    creds = tls.credentials_for(url)
    if creds not in _tls_openers:
        https = urllib.request.HTTPSHandler(context=tls.ssl_context(url))
        _tls_openers[creds] = urllib.request.build_opener(urllib.request.ProxyHandler({}), https)
    return _tls_openers[creds]


DEFAULT_TIMEOUT = 3.0
T = TypeVar("T")


class AdminError(HarnessError):
    """A failed admin call; ``unavailable`` tells a dead/unreachable member from an API error."""

    def __init__(self, message: str, *, unavailable: bool = False):
        super().__init__(message)
        self.unavailable = unavailable


def call(url: str, path: str, body: dict[str, Any] | None = None, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """One gateway call; on a member of an ``--auth`` run, as root, with the token
    fetched once more when etcd says it went stale."""
    if path in _NO_TOKEN:
        return _call(url, path, body, timeout, None)
    return _as_root(url, timeout, lambda token: _call(url, path, body, timeout, token))


def _as_root(url: str, timeout: float, fn: Callable[[str | None], T]) -> T:
    """``fn(token)`` with root's token (None without authentication), once more with a
    fresh one when etcd says the token went stale."""
    if auth.realm_for(url) is None:
        return fn(None)
    try:
        return fn(_root_token(url, timeout))
    except AdminError as exc:
        if not auth.stale_token(str(exc)):
            raise
        _root_tokens.pop(tls.hostport(url), None)
        return fn(_root_token(url, timeout))


#: Calls etcd answers without a token (and Authenticate, which makes one).
_NO_TOKEN = frozenset({"/health", "/version", "/v3/auth/authenticate"})
_root_tokens: dict[str, str] = {}


def _root_token(url: str, timeout: float) -> str:
    """Root's token, by Authenticate over gRPC: what serves the harness's gRPC (the
    self-test's interposer among them) may serve no gateway."""
    key = tls.hostport(url)
    token = _root_tokens.get(key)
    if token is None:
        realm = auth.realm_for(url)
        assert realm is not None
        name, password = (s.encode() for s in realm.credentials("root"))
        req = b"\x0a" + _varint(len(name)) + name + b"\x12" + _varint(len(password)) + password
        raw = _grpc_unary(url, "/etcdserverpb.Auth/Authenticate", req, timeout, None, "Authenticate")
        token = _root_tokens[key] = bytes(_decode(raw).get(2, b"")).decode()
    return token


def _call(url: str, path: str, body: dict[str, Any] | None, timeout: float, token: str | None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url.rstrip("/") + path, data=data, method="GET" if data is None else "POST")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", token)
    try:
        with _opener_for(url).open(req, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(detail).get("error") or json.loads(detail).get("message") or detail
        raise AdminError(f"{path} on {url}: HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AdminError(f"{path} on {url}: {reason}", unavailable=True) from None
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        raise AdminError(f"{path} on {url}: not JSON: {raw[:100]!r}") from None


def _int(v: Any) -> int:
    return int(v) if v not in (None, "") else 0


def b64(s: bytes | str) -> str:
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def unb64(s: str | None) -> bytes:
    return base64.b64decode(s) if s else b""


@dataclass(frozen=True)
class Status:
    member_id: int
    leader: int
    raft_term: int
    raft_index: int
    raft_applied_index: int
    revision: int
    db_size: int
    version: str
    is_learner: bool = False


def status(url: str, timeout: float = DEFAULT_TIMEOUT) -> Status:
    r = call(url, "/v3/maintenance/status", {}, timeout)
    h = r.get("header", {})
    return Status(
        member_id=_int(h.get("member_id")),
        leader=_int(r.get("leader")),
        raft_term=_int(r.get("raftTerm")),
        raft_index=_int(r.get("raftIndex")),
        raft_applied_index=_int(r.get("raftAppliedIndex")),
        revision=_int(h.get("revision")),
        db_size=_int(r.get("dbSize")),
        version=str(r.get("version", "")),
        is_learner=bool(r.get("isLearner", False)),
    )


def versions(url: str, timeout: float = DEFAULT_TIMEOUT) -> tuple[str, str]:
    """(server version, cluster version) from ``/version``; the cluster version reads
    "not_decided" until the leader has settled it."""
    r = call(url, "/version", None, timeout)
    return str(r.get("etcdserver", "")), str(r.get("etcdcluster", ""))


def health(url: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """``/health`` is true only when the member has a leader and can serve a quorum read.

    With authentication on, 3.5.0 makes that read without the caller's token and fails
    it ("auth: user name is empty"); the same quorum read as root stands in for it then.
    """
    try:
        r = call(url, "/health", None, timeout)
    except AdminError as exc:
        if auth.realm_for(url) is None or "user name is empty" not in str(exc):
            return False
        try:
            call(url, "/v3/kv/range", {"key": b64("health"), "limit": 1}, timeout)
        except AdminError:
            return False
        return True
    return str(r.get("health", "")).lower() == "true"


@dataclass(frozen=True)
class MemberInfo:
    id: int
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool = False


def member_list(url: str, timeout: float = DEFAULT_TIMEOUT) -> list[MemberInfo]:
    r = call(url, "/v3/cluster/member/list", {}, timeout)
    return [_member(m) for m in r.get("members", [])]


def _member(m: dict[str, Any]) -> MemberInfo:
    return MemberInfo(
        id=_int(m.get("ID")),
        name=m.get("name", ""),
        peer_urls=tuple(m.get("peerURLs", [])),
        client_urls=tuple(m.get("clientURLs", [])),
        is_learner=bool(m.get("isLearner", False)),
    )


def member_add(
    url: str, peer_urls: list[str], timeout: float = DEFAULT_TIMEOUT
) -> tuple[MemberInfo, list[MemberInfo]]:
    r = call(url, "/v3/cluster/member/add", {"peerURLs": peer_urls}, timeout)
    return _member(r.get("member", {})), [_member(m) for m in r.get("members", [])]


def member_remove(url: str, member_id: int, timeout: float = DEFAULT_TIMEOUT) -> None:
    call(url, "/v3/cluster/member/remove", {"ID": str(member_id)}, timeout)


def defragment(url: str, timeout: float = 30.0) -> None:
    call(url, "/v3/maintenance/defragment", {}, timeout)


def compact(url: str, revision: int, physical: bool = True, timeout: float = 30.0) -> None:
    call(url, "/v3/kv/compaction", {"revision": str(revision), "physical": physical}, timeout)


@dataclass(frozen=True)
class HashKV:
    hash: int
    hash_revision: int
    compact_revision: int


def hashkv(url: str, revision: int = 0, timeout: float = 10.0) -> HashKV:
    """HashKV over raw gRPC: the JSON gateway routes /v3/maintenance/hash to Hash only.

    Encoded by hand (one int64 field in, a few varint fields out) so admin needs no stubs.
    """
    req = b"\x08" + _varint(revision) if revision else b""

    def ask(token: str | None) -> bytes:
        metadata = [("token", token)] if token else None
        return _grpc_unary(url, "/etcdserverpb.Maintenance/HashKV", req, timeout, metadata, "HashKV")

    raw = _as_root(url, timeout, ask)
    fields = _decode(raw)
    header = _decode(fields.get(1, b"")) if isinstance(fields.get(1), bytes) else {}
    return HashKV(
        hash=int(fields.get(2, 0)),
        hash_revision=int(header.get(3, 0)),
        compact_revision=int(fields.get(3, 0)),
    )


def _grpc_unary(
    url: str, method: str, req: bytes, timeout: float, metadata: list[tuple[str, str]] | None, what: str
) -> bytes:
    import grpc

    target = url.split("://", 1)[-1].rstrip("/")
    options = [("grpc.enable_http_proxy", 0)]
    try:
        channel = (
            grpc.secure_channel(target, tls.grpc_credentials(url), options=options)
            if tls.is_tls(url)
            else grpc.insecure_channel(target, options=options)
        )
        with channel as ch:
            return ch.unary_unary(method)(req, timeout=timeout, metadata=metadata)  # type: ignore[no-any-return]
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        unavailable = code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        details = exc.details() if hasattr(exc, "details") else str(exc)
        raise AdminError(f"{what} on {url}: {details}", unavailable=unavailable) from None


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _decode(buf: bytes) -> dict[int, Any]:
    """Top-level fields of a protobuf message: varints as int, length-delimited as bytes."""
    out: dict[int, Any] = {}
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        field_no, wire = key >> 3, key & 7
        if wire == 0:
            out[field_no], i = _read_varint(buf, i)
        elif wire == 2:
            n, i = _read_varint(buf, i)
            out[field_no] = buf[i : i + n]
            i += n
        elif wire == 1:
            out[field_no] = int.from_bytes(buf[i : i + 8], "little")
            i += 8
        elif wire == 5:
            out[field_no] = int.from_bytes(buf[i : i + 4], "little")
            i += 4
        else:
            raise AdminError(f"cannot decode protobuf wire type {wire}")
    return out


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    for _ in range(10):
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
    raise AdminError("malformed protobuf varint")


def put(url: str, key: str, value: str, timeout: float = DEFAULT_TIMEOUT) -> int:
    """A write for tests and probes; returns the revision it created."""
    r = call(url, "/v3/kv/put", {"key": b64(key), "value": b64(value)}, timeout)
    return _int(r.get("header", {}).get("revision"))


def get(url: str, key: str, *, serializable: bool = False, timeout: float = DEFAULT_TIMEOUT) -> bytes | None:
    r = call(url, "/v3/kv/range", {"key": b64(key), "serializable": serializable}, timeout)
    kvs = r.get("kvs") or []
    return unb64(kvs[0].get("value")) if kvs else None
