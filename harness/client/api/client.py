"""The typed client: etcd's verbs over one :class:`Recorder`.

Each verb builds its request with :mod:`harness.client.api.op` and runs it through
``Recorder.execute``, the one path every call of the harness takes, so a typed call
lands in the history exactly as the raw dict would and the checker judges it the same
way. A call etcd did not answer raises :class:`EtcdCallError` after it was recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from harness.client.api import op
from harness.client.api.compare import Compare
from harness.client.api.errors import call_error
from harness.client.api.op import SortOrder
from harness.client.api.responses import (
    CompactResponse,
    DefragmentResponse,
    DeleteResponse,
    LeaseGrantResponse,
    LeaseKeepAliveResponse,
    LeaseRevokeResponse,
    LeaseTimeToLiveResponse,
    PutResponse,
    RangeResponse,
    Response,
    TxnResponse,
    parse,
)
from harness.client.api.watch import Watcher
from harness.client.recorder import Recorder
from models.etcd.schema import SortTarget
from models.history import OpRecord, StatusRecord
from models.operation import Request

R = TypeVar("R", bound=Response)


class RecordingClient:
    """One logical client of the history, like the :class:`Recorder` it wraps: use it
    from one thread at a time."""

    def __init__(self, recorder: Recorder):
        self.recorder = recorder
        self._leases = 0
        self._watchers: list[Watcher] = []

    def execute(self, request: Request, timeout: float | None = None) -> OpRecord:
        """A raw request dict, recorded; returns the record and never raises for a
        failed call (``Recorder.execute``, kept for tests written against it)."""
        return self.recorder.execute(request, timeout)

    def do(self, request: Request, timeout: float | None = None) -> Response:
        """Any request of :mod:`~harness.client.api.op` (clientv3's ``Do``), e.g. with a
        timeout of its own; raises :class:`EtcdCallError` unless etcd answered."""
        record = self.recorder.execute(op.checked(request), timeout)
        error = call_error(record)
        if error is not None:
            raise error
        return parse(record.input, record.output, record)

    def _do(self, request: Request, kind: type[R]) -> R:
        resp = self.do(request)
        assert isinstance(resp, kind), resp
        return resp

    def put(
        self, key: str, value: str, *, lease: int = 0, prev_kv: bool = False, ignore_lease: bool = False
    ) -> PutResponse:
        return self._do(
            op.put(key, value, lease=lease, prev_kv=prev_kv, ignore_lease=ignore_lease), PutResponse
        )

    def get(
        self, key: str, *, revision: int = 0, serializable: bool = False, keys_only: bool = False,
        count_only: bool = False,
    ) -> RangeResponse:  # fmt: skip
        req = op.get(
            key, revision=revision, serializable=serializable, keys_only=keys_only, count_only=count_only
        )
        return self._do(req, RangeResponse)

    def range(
        self,
        key: str,
        range_end: str | None = None,
        *,
        prefix: bool = False,
        from_key: bool = False,
        limit: int = 0,
        revision: int = 0,
        keys_only: bool = False,
        count_only: bool = False,
        serializable: bool = False,
        sort_order: SortOrder = "none",
        sort_target: SortTarget = "key",
        min_mod_revision: int = 0,
        max_mod_revision: int = 0,
        min_create_revision: int = 0,
        max_create_revision: int = 0,
    ) -> RangeResponse:
        req = op.range(
            key, range_end, prefix=prefix, from_key=from_key, limit=limit, revision=revision,
            keys_only=keys_only, count_only=count_only, serializable=serializable,
            sort_order=sort_order, sort_target=sort_target,
            min_mod_revision=min_mod_revision, max_mod_revision=max_mod_revision,
            min_create_revision=min_create_revision, max_create_revision=max_create_revision,
        )  # fmt: skip
        return self._do(req, RangeResponse)

    def delete(
        self, key: str, range_end: str | None = None, *, prefix: bool = False, from_key: bool = False,
        prev_kv: bool = False,
    ) -> DeleteResponse:  # fmt: skip
        return self._do(
            op.delete(key, range_end, prefix=prefix, from_key=from_key, prev_kv=prev_kv), DeleteResponse
        )

    def txn(
        self, compare: Iterable[Compare] = (), then: Iterable[Request] = (), otherwise: Iterable[Request] = ()
    ) -> TxnResponse:
        """``then`` and ``otherwise`` hold requests of :mod:`~harness.client.api.op`."""
        return self._do(op.txn(compare, then, otherwise), TxnResponse)

    def lease_grant(self, ttl: int, *, id: int = 0) -> LeaseGrantResponse:
        """``id`` 0 lets the client pick one: unique per client and grant, in the same
        ``(client + 1) << 20 | n`` scheme as traffic's (the model needs it up front)."""
        if not id:
            self._leases += 1
            id = (self.recorder.client_id + 1) << 20 | self._leases
        return self._do(op.lease_grant(ttl, id), LeaseGrantResponse)

    def lease_revoke(self, id: int) -> LeaseRevokeResponse:
        return self._do(op.lease_revoke(id), LeaseRevokeResponse)

    def keepalive_once(self, id: int) -> LeaseKeepAliveResponse:
        """One renewal on a stream of its own; a lease etcd no longer holds raises
        :class:`LeaseNotFoundError`."""
        return self._do(op.lease_keepalive(id), LeaseKeepAliveResponse)

    keepalive = keepalive_once

    def lease_timetolive(self, id: int, *, keys: bool = False) -> LeaseTimeToLiveResponse:
        return self._do(op.lease_timetolive(id, keys=keys), LeaseTimeToLiveResponse)

    def compact(self, revision: int, *, physical: bool = False) -> CompactResponse:
        return self._do(op.compact(revision, physical=physical), CompactResponse)

    def defragment(self) -> DefragmentResponse:
        return self._do(op.defragment(), DefragmentResponse)

    def watch(
        self,
        key: str,
        range_end: str | None = None,
        *,
        prefix: bool = False,
        from_key: bool = False,
        start_revision: int = 0,
        prev_kv: bool = False,
        progress_notify: bool = False,
        filters: Sequence[str] = (),
        fragment: bool = False,
    ) -> Watcher:
        """A recorded watch (``Recorder.watch``), closed by :meth:`close` if the test
        does not close it first."""
        key, range_end = op.key_range(key, range_end, prefix=prefix, from_key=from_key)
        args: dict[str, Any] = {
            "start_revision": start_revision, "prev_kv": prev_kv, "progress_notify": progress_notify,
            "filters": list(filters), "fragment": fragment,
        }  # fmt: skip
        op.checked_watch({"key": key, "range_end": range_end, **args})
        watcher = Watcher(self.recorder.watch(key, range_end, **args))
        self._watchers.append(watcher)
        return watcher

    def sample_status(self, *, hash_kv: bool = False, timeout: float | None = None) -> StatusRecord:
        """A recorded Status (and HashKV) sample of the member, for the convergence check."""
        return self.recorder.sample_status(hash_kv=hash_kv, timeout=timeout)

    def close(self) -> None:
        """Close the watches still open, so none outlives the history it writes to."""
        for watcher in self._watchers:
            watcher.close()
        self._watchers.clear()
