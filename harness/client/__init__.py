"""A thin etcd v3 client over grpcio, bound to one endpoint, and the layer that records
its calls into a history.

Not a library client: etcd3 and its forks hide revisions, ignore range options, retry
behind the caller's back or lock endpoints out after failures, and each of those would
either hide a bug or invent one.

Typical use by traffic (one recorder per logical client, one thread or task each)::

    client = EtcdClient("127.0.0.1:2379", timeout=2.0)        # or aio.AsyncEtcdClient
    rec = Recorder(client, writer, clock, op_ids, client_id=3)  # or aio.AsyncRecorder
    record = rec.execute({"kind": "put", "key": "k", "value": "v", "lease": 0, "prev_kv": False})

``execute(client, op, timeout)`` alone returns the output dict or raises EtcdError;
``outcome.classify(op, exc)`` turns a failure into (status, output, ErrorInfo).
"""

from harness.client.errors import EtcdError
from harness.client.etcd import EtcdClient
from harness.client.ops import execute
from harness.client.recorder import Clock, Counter, Recorder

__all__ = ["Clock", "Counter", "EtcdClient", "EtcdError", "Recorder", "execute"]
