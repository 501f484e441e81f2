"""A typed etcd API over the recorder, named like etcd's own verbs, for tests written by
hand (the pytest plugin's ``etcd_recorder`` is a :class:`RecordingClient`) and for
reproductions generated from histories::

    from harness.client.api import op, value, mod_revision

    def test_cas(etcd_recorder):
        put = etcd_recorder.put("a", "1")
        resp = etcd_recorder.txn(
            [value("a") == "1", mod_revision("a") == put.revision],
            then=[op.put("a", "2")],
            otherwise=[op.get("a")],
        )
        assert resp.succeeded and etcd_recorder.get("a").kv.value == "2"

It lives in the client layer, beside the recorder it wraps, rather than in the plugin:
anything above that layer (the plugin, a reproduction script, the runner) may use it,
and it needs nothing from pytest. ``op`` builds requests (txn branches, ``do``),
``compare`` builds txn compares, ``responses`` and ``watch`` type what comes back,
``errors`` is what a call that etcd did not answer raises.
"""

from harness.client.api import op
from harness.client.api.client import RecordingClient
from harness.client.api.compare import Compare, create_revision, lease, mod_revision, value, version
from harness.client.api.errors import CompactedError, EtcdCallError, FutureRevisionError, LeaseNotFoundError
from harness.client.api.responses import (
    CompactResponse,
    DefragmentResponse,
    DeleteResponse,
    KeyValue,
    LeaseGrantResponse,
    LeaseKeepAliveResponse,
    LeaseRevokeResponse,
    LeaseTimeToLiveResponse,
    PutResponse,
    RangeResponse,
    Response,
    TxnResponse,
)
from harness.client.api.watch import Event, WatchEndedError, Watcher, WatchResponse

__all__ = [
    "CompactResponse",
    "CompactedError",
    "Compare",
    "DefragmentResponse",
    "DeleteResponse",
    "EtcdCallError",
    "Event",
    "FutureRevisionError",
    "KeyValue",
    "LeaseGrantResponse",
    "LeaseKeepAliveResponse",
    "LeaseNotFoundError",
    "LeaseRevokeResponse",
    "LeaseTimeToLiveResponse",
    "PutResponse",
    "RangeResponse",
    "RecordingClient",
    "Response",
    "TxnResponse",
    "WatchEndedError",
    "WatchResponse",
    "Watcher",
    "create_revision",
    "lease",
    "mod_revision",
    "op",
    "value",
    "version",
]
