"""A typed call that etcd did not answer with a response: the exception a test catches.

The call is in the history either way (the recorder wrote it before this is raised),
so catching the error changes nothing the checker sees. Three kinds of failure:

* ``status`` ``fail``: the request certainly had no effect (refused, a read that failed);
* ``status`` ``unknown``: it may or may not have taken effect, now or later (a timeout
  on a write); the checker allows both;
* ``status`` ``ok`` with a ``reason``: etcd's definite answer that the model predicts
  (``compacted``, ``future_revision``, ``lease_not_found``), each with its own subclass
  so a test can expect exactly that one.
"""

from __future__ import annotations

from models.history import ErrorInfo, OpRecord, Status


class EtcdCallError(Exception):
    def __init__(self, record: OpRecord):
        self.record = record
        super().__init__(f"{record.input.get('kind')} {record.status}: {self.reason or self._grpc()}")

    def _grpc(self) -> str:
        info = self.error
        if info is None:
            return "no response"
        return f"{info.code}: {info.message}" if info.message else info.code

    @property
    def status(self) -> Status:
        return self.record.status

    @property
    def error(self) -> ErrorInfo | None:
        """The gRPC code and message (None for an input refused before it was sent)."""
        return self.record.error

    @property
    def reason(self) -> str | None:
        """The model's name of a definite etcd error, e.g. ``compacted``."""
        out = self.record.output
        return out.get("error") if isinstance(out, dict) else None


class CompactedError(EtcdCallError):
    """The revision asked for is below the compaction mark."""


class FutureRevisionError(EtcdCallError):
    """The revision asked for is above the current one."""


class LeaseNotFoundError(EtcdCallError):
    """etcd does not hold the lease (never granted, revoked or expired)."""


_BY_REASON: dict[str, type[EtcdCallError]] = {
    "compacted": CompactedError,
    "future_revision": FutureRevisionError,
    "lease_not_found": LeaseNotFoundError,
}


def call_error(record: OpRecord) -> EtcdCallError | None:
    """The error a record stands for, None when it is an answer."""
    if record.status == "ok":
        out = record.output
        reason = out.get("error") if isinstance(out, dict) else None
        if reason is None:
            return None
        return _BY_REASON.get(reason, EtcdCallError)(record)
    return EtcdCallError(record)
