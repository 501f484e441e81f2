"""Request mixes for the simulator besides its default kv mix.

``kubernetes``: what the API server does to etcd (harness/traffic/plan.py's profile):
creates, updates and deletes as txns guarded by the key's mod revision (as a client
that read it just before: it knows the current one most of the time), gets, lists of
the prefix with and without a limit, and compactions."""

from __future__ import annotations

import random
from typing import Any

from models.etcd.state import Store


def kubernetes(rng: random.Random, store: Store, keys: list[str], opid: int) -> dict[str, Any]:
    key = rng.choice(keys)
    x = rng.random()
    if x < 0.01:
        return {
            "kind": "compact",
            "revision": max(1, store.revision - rng.randrange(0, 50)),
            "physical": False,
        }
    if x < 0.51:
        kv = store.get(key, store.revision)
        mod = kv.mod_revision if kv is not None else 0
        if rng.random() < 0.1:
            mod = rng.randrange(0, store.revision + 1)
        write: dict[str, Any] = {"kind": "put", "key": key, "value": f"v{opid}"}
        if kv is not None and x > 0.45:
            write = {"kind": "delete", "key": key, "prev_kv": True}
        return {
            "kind": "txn",
            "compare": [{"key": key, "target": "mod", "result": "=", "value": mod}],
            "success": [write],
            "failure": [{"kind": "range", "key": key}],
        }
    if x < 0.70:
        return {"kind": "range", "key": key}
    return {"kind": "range", "key": "k", "range_end": "l", "limit": rng.choice([0, 0, 5, 50])}
