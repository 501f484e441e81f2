"""Seeded bug classes for the self-test: each breaks one guarantee the checks cover.

Every class is a :class:`~harness.selftest.interposer.Tamper` that sits in front of one
member and injects a few times (``budget``) while its window is open, counting what it
did. ``check`` names the check that must catch it (:data:`CHECK_OF_KIND` maps anomaly
kinds to checks). The bugs imitate what a broken etcd would send, so the harness sees
only well-formed responses that happen to be wrong.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc

from harness import auth
from harness.client.proto import etcd_pb2 as pb
from harness.selftest.interposer import Forward, Tamper

KV_RANGE = "/etcdserverpb.KV/Range"
KV_PUT = "/etcdserverpb.KV/Put"
KV_TXN = "/etcdserverpb.KV/Txn"
WATCH = "/etcdserverpb.Watch/Watch"
HASH_KV = "/etcdserverpb.Maintenance/HashKV"

CHECK_OF_KIND = {
    "lost-write": "lost-write",
    "non-linearizable": "linearizability",
    "revision-reused": "linearizability",
    "revision-mismatch": "linearizability",
    "stale-read": "stale-read",
    "divergence": "convergence",
    "lease-overlived": "lease-lifetime",
    "permission-ignored": "auth",
    "permission-denied": "auth",
}


def check_of(kind: str) -> str:
    return "watch" if kind.startswith("watch-") else CHECK_OF_KIND.get(kind, kind)


@dataclass
class Bug(Tamper):
    """Base: counts injections, opens its window ``delay`` s after ``arm()``."""

    name = "none"
    check = ""
    summary = "no bug: the control run, which must pass"

    member: int = 0
    seed: int = 0
    budget: int = 4
    delay: float = 1.0
    window: float = 3.0
    injected: list[str] = field(default_factory=list)
    #: The test user's permissions, when the self-test turned authentication on.
    layout: auth.Layout | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.name}:{self.seed}:{self.member}")
        self.lock = threading.Lock()
        self.opens = float("inf")
        self.closes = float("inf")
        #: Wall time of the first injection.
        self.first_at: float | None = None

    def arm(self) -> None:
        now = time.monotonic()
        self.opens, self.closes = now + self.delay, now + self.delay + self.window

    def take(self, chance: float, what: str) -> bool:
        """Whether to inject now (and count it when so)."""
        with self.lock:
            if not (self.opens <= time.monotonic() < self.closes) or len(self.injected) >= self.budget:
                return False
            if self.rng.random() >= chance:
                return False
            if not self.injected:
                self.first_at = time.time()
            self.injected.append(what)
            return True


def _linearizable_read(request: bytes) -> bool:
    return not pb.RangeRequest.FromString(request).serializable


@dataclass
class StaleRead(Bug):
    """A linearizable read answered from a response cached a while ago."""

    name = "stale-read"
    check = "linearizability"
    summary = "a linearizable read is answered with an older response of the same read"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.cache: dict[bytes, tuple[float, bytes]] = {}

    def unary(self, method: str, request: bytes, forward: Forward) -> bytes:
        if method != KV_RANGE or not _linearizable_read(request):
            return forward(request)
        now = time.monotonic()
        old = self.cache.get(request)
        if (
            old is not None
            and now - old[0] > 0.3
            and self.take(0.5, f"stale answer {now - old[0]:.1f} s old")
        ):
            return old[1]
        resp = forward(request)
        if old is None or now - old[0] > 2.0:
            self.cache[request] = (now, resp)
        return resp


@dataclass
class LostWrite(Bug):
    """A put is acknowledged with a revision but never reaches etcd."""

    name = "lost-write"
    check = "lost-write"
    summary = "a put is acknowledged (revision after the latest seen) but never applied"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.latest = 0

    def unary(self, method: str, request: bytes, forward: Forward) -> bytes:
        if method == KV_PUT and self.latest and self.take(0.05, "put acknowledged, dropped"):
            resp = pb.PutResponse(header=pb.ResponseHeader(revision=self.latest + 1))
            return resp.SerializeToString()
        out = forward(request)
        if method in (KV_PUT, KV_RANGE, KV_TXN):
            rev = _header_revision(method, out)
            with self.lock:
                self.latest = max(self.latest, rev)
        return out


@dataclass
class DoubleApply(Bug):
    """A put is applied twice; the client sees the first acknowledgement."""

    name = "double-apply"
    check = "linearizability"
    summary = "a put is sent to etcd twice and the first response returned"

    def unary(self, method: str, request: bytes, forward: Forward) -> bytes:
        out = forward(request)
        if method == KV_PUT and self.take(0.05, "put applied twice"):
            forward(request)
        return out


class _ResponseBug(Bug):
    """Rewrites one kind of unary response when ``eligible`` says so (and the budget
    allows): the request is forwarded once, as etcd would see it."""

    method = ""
    response: Any = None
    chance = 0.1

    def unary(self, method: str, request: bytes, forward: Forward) -> bytes:
        out = forward(request)
        if method != self.method:
            return out
        resp = self.response.FromString(out)
        if not self.eligible(request, resp) or not self.take(self.chance, self.summary):
            return out
        self.change(resp)
        return resp.SerializeToString()  # type: ignore[no-any-return]

    def eligible(self, request: bytes, resp: Any) -> bool:
        return True

    def change(self, resp: Any) -> None:
        raise NotImplementedError


@dataclass
class RevisionBack(_ResponseBug):
    """A read's header revision goes back below what the member had served."""

    name = "revision-back"
    check = "linearizability"
    summary = "a read response carries a header revision far below the current one"
    method = KV_RANGE
    response = pb.RangeResponse

    def eligible(self, request: bytes, resp: Any) -> bool:
        return _linearizable_read(request) and resp.header.revision > 40

    def change(self, resp: Any) -> None:
        resp.header.revision -= self.rng.randint(20, 40)


@dataclass
class WrongKvMeta(_ResponseBug):
    """A read returns a key with the wrong version or mod_revision."""

    name = "wrong-kv-meta"
    check = "linearizability"
    summary = "a read returns a key with its version or mod_revision off by one"
    method = KV_RANGE
    response = pb.RangeResponse

    def eligible(self, request: bytes, resp: Any) -> bool:
        return _linearizable_read(request) and bool(resp.kvs)

    def change(self, resp: Any) -> None:
        kv = resp.kvs[self.rng.randrange(len(resp.kvs))]
        if self.rng.random() < 0.5:
            kv.version += 1
        else:
            kv.mod_revision += 1


@dataclass
class TxnWrongBranch(_ResponseBug):
    """A txn reports the other branch than the one etcd took."""

    name = "txn-wrong-branch"
    check = "linearizability"
    summary = "a txn response reports succeeded flipped"
    method = KV_TXN
    response = pb.TxnResponse

    def eligible(self, request: bytes, resp: Any) -> bool:
        return bool(pb.TxnRequest.FromString(request).compare)

    def change(self, resp: Any) -> None:
        resp.succeeded = not resp.succeeded


class _WatchBug(Bug):
    """Rewrites the stream of watch responses; only responses with events are touched."""

    def stream(self, method: str, responses: Iterator[bytes]) -> Iterator[bytes]:
        if method != WATCH:
            yield from responses
            return
        yield from self.rewrite(responses)

    def rewrite(self, responses: Iterator[bytes]) -> Iterator[bytes]:
        yield from responses


@dataclass
class WatchDrop(_WatchBug):
    name = "watch-drop"
    check = "watch"
    summary = "a watch response with events is never delivered"

    def rewrite(self, responses: Iterator[bytes]) -> Iterator[bytes]:
        seen = 0
        for raw in responses:
            resp = pb.WatchResponse.FromString(raw)
            if resp.events:
                seen += 1
                if seen > 2 and self.take(0.2, "events dropped"):
                    continue
            yield raw


@dataclass
class WatchStall(_WatchBug):
    name = "watch-stall"
    check = "watch"
    summary = "a watch stream stops delivering responses but stays open"

    def rewrite(self, responses: Iterator[bytes]) -> Iterator[bytes]:
        stalled = False
        for raw in responses:
            if not stalled and pb.WatchResponse.FromString(raw).events:
                stalled = self.take(0.2, "stream stalled")
            if not stalled:
                yield raw


@dataclass
class WatchDuplicate(_WatchBug):
    name = "watch-duplicate"
    check = "watch"
    summary = "a watch response with events is delivered twice"

    def rewrite(self, responses: Iterator[bytes]) -> Iterator[bytes]:
        for raw in responses:
            yield raw
            if pb.WatchResponse.FromString(raw).events and self.take(0.2, "events repeated"):
                yield raw


@dataclass
class WatchReorder(_WatchBug):
    name = "watch-reorder"
    check = "watch"
    summary = "two watch responses with events are delivered in swapped order"

    def rewrite(self, responses: Iterator[bytes]) -> Iterator[bytes]:
        held: bytes | None = None
        for raw in responses:
            has_events = bool(pb.WatchResponse.FromString(raw).events)
            if held is not None and has_events:
                yield raw
                yield held
                held = None
                continue
            if has_events and self.take(0.2, "events held back"):
                held = raw
                continue
            yield raw
        if held is not None:
            yield held


@dataclass
class ProgressAhead(_WatchBug):
    name = "progress-ahead"
    check = "watch"
    summary = "a progress notification at an event's revision is sent before the event"

    def rewrite(self, responses: Iterator[bytes]) -> Iterator[bytes]:
        for raw in responses:
            resp = pb.WatchResponse.FromString(raw)
            if resp.events and self.take(0.2, "progress notification ahead of events"):
                notify = pb.WatchResponse(header=resp.header, watch_id=resp.watch_id)
                notify.header.revision = max(e.kv.mod_revision for e in resp.events)
                yield notify.SerializeToString()
            yield raw


@dataclass
class Divergence(Bug):
    """One member holds a different value: its serializable reads and its HashKV show it."""

    name = "divergence"
    check = "convergence"
    summary = "one member's data differs: a value in its local reads and its HashKV"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.key: bytes | None = None

    def unary(self, method: str, request: bytes, forward: Forward) -> bytes:
        out = forward(request)
        if self.member != 0:
            return out
        if method == HASH_KV:
            resp = pb.HashKVResponse.FromString(out)
            if self.injected:
                resp.hash ^= 0x5A5A5A5A
                return resp.SerializeToString()
        elif method == KV_RANGE and pb.RangeRequest.FromString(request).serializable:
            resp = pb.RangeResponse.FromString(out)
            for kv in resp.kvs:
                if self.key is None and self.take(1.0, f"value of {kv.key.decode()} differs on this member"):
                    self.key = kv.key
                if kv.key == self.key:
                    kv.value = kv.value + b"-diverged"
                    return resp.SerializeToString()
        return out


class _PermissionDenied(grpc.RpcError):
    """What etcd sends for a request its user may not make."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.PERMISSION_DENIED

    def details(self) -> str:
        return "etcdserver: permission denied"


@dataclass
class DeniesPermitted(Bug):
    """A member refuses a request its user holds the permission for, without sending it on."""

    name = "denies-permitted"
    check = "auth"
    summary = "a put or linearizable read the test user is permitted is refused as PERMISSION_DENIED"

    def unary(self, method: str, request: bytes, forward: Forward) -> bytes:
        if self.layout is None or method not in (KV_PUT, KV_RANGE):
            return forward(request)
        if method == KV_RANGE:
            rng = pb.RangeRequest.FromString(request)
            key, single = rng.key, not rng.range_end and not rng.serializable
        else:
            put = pb.PutRequest.FromString(request)
            key, single = put.key, put.lease == 0
        if single and key.decode() >= self.layout.churn_end and self.take(0.05, f"{key.decode()} refused"):
            raise _PermissionDenied()
        return forward(request)


def _header_revision(method: str, raw: bytes) -> int:
    cls: Any = {KV_PUT: pb.PutResponse, KV_RANGE: pb.RangeResponse, KV_TXN: pb.TxnResponse}[method]
    return int(cls.FromString(raw).header.revision)


BUGS: dict[str, type[Bug]] = {
    b.name: b
    for b in (
        StaleRead,
        LostWrite,
        DoubleApply,
        RevisionBack,
        WrongKvMeta,
        TxnWrongBranch,
        WatchDrop,
        WatchStall,
        WatchDuplicate,
        WatchReorder,
        ProgressAhead,
        Divergence,
        DeniesPermitted,
    )
}
