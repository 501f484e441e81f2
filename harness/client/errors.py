"""The one exception type the client raises for a failed call."""

from __future__ import annotations

import grpc


class EtcdError(Exception):
    """A call that did not return a response.

    ``code`` is the gRPC status code name (``UNAVAILABLE``, ``DEADLINE_EXCEEDED``, ...)
    exactly as the channel reported it, ``message`` the status details (etcd puts its own
    error text there, e.g. ``etcdserver: request timed out``), ``details`` grpc's debug
    string. Outcome classification reads code and message; nothing here interprets them.
    """

    def __init__(self, code: str, message: str = "", details: str = ""):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.details = details

    @classmethod
    def from_rpc(cls, exc: grpc.RpcError) -> EtcdError:
        code_fn = getattr(exc, "code", None)
        code = code_fn() if code_fn is not None else None
        name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
        details_fn = getattr(exc, "details", None)
        message = (details_fn() if details_fn is not None else None) or ""
        debug_fn = getattr(exc, "debug_error_string", None)
        debug = (debug_fn() if debug_fn is not None else None) or ""
        return cls(name, message, debug)

    def __reduce__(self) -> tuple[type[EtcdError], tuple[str, str, str]]:
        return (type(self), (self.code, self.message, self.details))
