"""Synchronous etcd v3 client bound to one endpoint.

One endpoint, because the harness decides which member each request goes to and records
it; a balancing client would blur which member answered. No retries (gRPC's are turned
off), because a retried write is a second write the history does not know about. The
reconnect backoff is capped at one second so that a member back from a fault is usable
again at once, instead of after grpc's default two minutes.

Methods return the protobuf responses untouched (headers included) and raise
:class:`EtcdError` for any failed call. Thread-safe: a grpc channel serves concurrent
calls, so several threads may share a client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import grpc

from harness import auth, tls
from harness.client.errors import EtcdError
from harness.client.proto import etcd_pb2 as pb
from harness.client.proto import etcd_pb2_grpc as rpc
from harness.client.tokens import TokenInterceptor
from harness.client.watch import Watch, create_request

_MAX_MESSAGE = 256 * 1024 * 1024

R = TypeVar("R")


def channel_options(
    keepalive_time_ms: int = 10_000, keepalive_timeout_ms: int = 5_000
) -> list[tuple[str, Any]]:
    """Options for a channel to one member under fault injection.

    Keepalive pings are what detect a paused or partitioned member on a watch stream
    (unary calls have deadlines). etcd refuses pings more often than
    ``--grpc-keepalive-min-time`` (5 s by default) and pings without an open call, so pings
    are sent only during calls and no more often than every 10 s. A local subchannel pool
    gives every client its own TCP connection, so a fault on one connection is not
    silently shared. Recent grpc-core waits for a ping ack for ``grpc.http2.ping_timeout_ms``
    (one minute by default) rather than the keepalive timeout, so both are set.
    """
    return [
        ("grpc.enable_retries", 0),
        ("grpc.keepalive_time_ms", keepalive_time_ms),
        ("grpc.keepalive_timeout_ms", keepalive_timeout_ms),
        ("grpc.http2.ping_timeout_ms", keepalive_timeout_ms),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1_000),
        ("grpc.max_receive_message_length", _MAX_MESSAGE),
        ("grpc.max_send_message_length", _MAX_MESSAGE),
        ("grpc.use_local_subchannel_pool", 1),
    ]


def grpc_target(endpoint: str) -> str:
    """``http://127.0.0.1:2379`` (etcd's URL form) or ``127.0.0.1:2379`` -> grpc target."""
    for scheme in ("http://", "https://"):
        if endpoint.startswith(scheme):
            endpoint = endpoint[len(scheme) :]
    return endpoint.rstrip("/")


class EtcdClient:
    """A client for the member at ``endpoint``; ``timeout`` is the default deadline (s)."""

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
        channel = (
            grpc.secure_channel(grpc_target(endpoint), tls.grpc_credentials(endpoint), options=opts)
            if tls.is_tls(endpoint)
            else grpc.insecure_channel(grpc_target(endpoint), options=opts)
        )
        self.tokens: auth.TokenSource | None = None
        if auth.realm_for(endpoint) is not None:
            self.tokens = auth.TokenSource(endpoint, who, self._authenticate)
            channel = grpc.intercept_channel(channel, TokenInterceptor(self.tokens))
        self._channel = channel
        self.auth = rpc.AuthStub(self._channel)
        self.kv = rpc.KVStub(self._channel)
        self.watch_stub = rpc.WatchStub(self._channel)
        self.lease = rpc.LeaseStub(self._channel)
        self.cluster = rpc.ClusterStub(self._channel)
        self.maintenance = rpc.MaintenanceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def _authenticate(self, name: str, password: str) -> str:
        req = pb.AuthenticateRequest(name=name, password=password)
        resp: pb.AuthenticateResponse = self.call(self.auth.Authenticate, req)
        return resp.token

    def __enter__(self) -> EtcdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: Any, request: Any, timeout: float | None = None) -> Any:
        """Run one unary RPC (``method`` is a stub attribute, e.g. ``client.kv.Put``)."""
        try:
            return method(request, timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as exc:
            err = EtcdError.from_rpc(exc)
            if self.tokens is not None:
                self.tokens.drop(err.message)
            raise err from None

    # KV

    def range(
        self,
        key: bytes,
        range_end: bytes = b"",
        *,
        revision: int = 0,
        limit: int = 0,
        keys_only: bool = False,
        count_only: bool = False,
        serializable: bool = False,
        timeout: float | None = None,
    ) -> pb.RangeResponse:
        req = pb.RangeRequest(
            key=key,
            range_end=range_end,
            revision=revision,
            limit=limit,
            keys_only=keys_only,
            count_only=count_only,
            serializable=serializable,
        )
        resp: pb.RangeResponse = self.call(self.kv.Range, req, timeout)
        return resp

    def put(
        self, key: bytes, value: bytes, *, lease: int = 0, prev_kv: bool = False, timeout: float | None = None
    ) -> pb.PutResponse:
        req = pb.PutRequest(key=key, value=value, lease=lease, prev_kv=prev_kv)
        resp: pb.PutResponse = self.call(self.kv.Put, req, timeout)
        return resp

    def delete(
        self, key: bytes, range_end: bytes = b"", *, prev_kv: bool = False, timeout: float | None = None
    ) -> pb.DeleteRangeResponse:
        req = pb.DeleteRangeRequest(key=key, range_end=range_end, prev_kv=prev_kv)
        resp: pb.DeleteRangeResponse = self.call(self.kv.DeleteRange, req, timeout)
        return resp

    def txn(self, request: pb.TxnRequest, *, timeout: float | None = None) -> pb.TxnResponse:
        resp: pb.TxnResponse = self.call(self.kv.Txn, request, timeout)
        return resp

    def compact(
        self, revision: int, *, physical: bool = False, timeout: float | None = None
    ) -> pb.CompactionResponse:
        req = pb.CompactionRequest(revision=revision, physical=physical)
        resp: pb.CompactionResponse = self.call(self.kv.Compact, req, timeout)
        return resp

    # Lease

    def lease_grant(
        self, ttl: int, lease_id: int = 0, *, timeout: float | None = None
    ) -> pb.LeaseGrantResponse:
        resp: pb.LeaseGrantResponse = self.call(
            self.lease.LeaseGrant, pb.LeaseGrantRequest(TTL=ttl, ID=lease_id), timeout
        )
        if resp.error:
            raise EtcdError("UNKNOWN", resp.error)
        return resp

    def lease_revoke(self, lease_id: int, *, timeout: float | None = None) -> pb.LeaseRevokeResponse:
        resp: pb.LeaseRevokeResponse = self.call(
            self.lease.LeaseRevoke, pb.LeaseRevokeRequest(ID=lease_id), timeout
        )
        return resp

    def lease_time_to_live(
        self, lease_id: int, *, keys: bool = False, timeout: float | None = None
    ) -> pb.LeaseTimeToLiveResponse:
        req = pb.LeaseTimeToLiveRequest(ID=lease_id, keys=keys)
        resp: pb.LeaseTimeToLiveResponse = self.call(self.lease.LeaseTimeToLive, req, timeout)
        return resp

    def lease_keep_alive_once(
        self, lease_id: int, *, timeout: float | None = None
    ) -> pb.LeaseKeepAliveResponse:
        """One keep-alive round trip on a fresh stream (the harness renews rarely)."""
        t = self.timeout if timeout is None else timeout
        try:
            for resp in self.lease.LeaseKeepAlive(iter([pb.LeaseKeepAliveRequest(ID=lease_id)]), timeout=t):
                return resp  # type: ignore[no-any-return]
        except grpc.RpcError as exc:
            raise EtcdError.from_rpc(exc) from None
        raise EtcdError("UNKNOWN", "keep-alive stream closed without a response")

    # Watch

    def watch(
        self,
        key: bytes,
        range_end: bytes = b"",
        *,
        start_revision: int = 0,
        prev_kv: bool = False,
        progress_notify: bool = False,
        filters: Sequence[str] = (),
        fragment: bool = False,
    ) -> Watch:
        """Open a stream with one watcher; see :class:`Watch` and
        :func:`~harness.client.watch.create_request`. No deadline: close it."""
        create = create_request(
            key,
            range_end,
            start_revision=start_revision,
            prev_kv=prev_kv,
            progress_notify=progress_notify,
            filters=filters,
            fragment=fragment,
        )
        return Watch(self.watch_stub, create)

    # Maintenance

    def status(self, *, timeout: float | None = None) -> pb.StatusResponse:
        resp: pb.StatusResponse = self.call(self.maintenance.Status, pb.StatusRequest(), timeout)
        return resp

    def hash_kv(self, revision: int = 0, *, timeout: float | None = None) -> pb.HashKVResponse:
        resp: pb.HashKVResponse = self.call(
            self.maintenance.HashKV, pb.HashKVRequest(revision=revision), timeout
        )
        return resp

    def hash(self, *, timeout: float | None = None) -> pb.HashResponse:
        resp: pb.HashResponse = self.call(self.maintenance.Hash, pb.HashRequest(), timeout)
        return resp

    def defragment(self, *, timeout: float | None = None) -> pb.DefragmentResponse:
        resp: pb.DefragmentResponse = self.call(self.maintenance.Defragment, pb.DefragmentRequest(), timeout)
        return resp

    def alarms(self, *, timeout: float | None = None) -> pb.AlarmResponse:
        req = pb.AlarmRequest(action=pb.AlarmRequest.GET)
        resp: pb.AlarmResponse = self.call(self.maintenance.Alarm, req, timeout)
        return resp

    def alarm_disarm(
        self, member_id: int = 0, alarm: int = pb.NONE, *, timeout: float | None = None
    ) -> pb.AlarmResponse:
        req = pb.AlarmRequest(action=pb.AlarmRequest.DEACTIVATE, memberID=member_id, alarm=alarm)  # type: ignore[arg-type]
        resp: pb.AlarmResponse = self.call(self.maintenance.Alarm, req, timeout)
        return resp

    # Cluster

    def member_list(
        self, *, linearizable: bool = False, timeout: float | None = None
    ) -> pb.MemberListResponse:
        req = pb.MemberListRequest(linearizable=linearizable)
        resp: pb.MemberListResponse = self.call(self.cluster.MemberList, req, timeout)
        return resp

    def member_add(
        self, peer_urls: Sequence[str], *, learner: bool = False, timeout: float | None = None
    ) -> pb.MemberAddResponse:
        req = pb.MemberAddRequest(peerURLs=list(peer_urls), isLearner=learner)
        resp: pb.MemberAddResponse = self.call(self.cluster.MemberAdd, req, timeout)
        return resp

    def member_remove(self, member_id: int, *, timeout: float | None = None) -> pb.MemberRemoveResponse:
        resp: pb.MemberRemoveResponse = self.call(
            self.cluster.MemberRemove, pb.MemberRemoveRequest(ID=member_id), timeout
        )
        return resp
