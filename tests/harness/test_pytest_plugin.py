"""The plugin's fixtures, used the way a user would use them."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _get(key: str) -> dict[str, Any]:
    return {
        "kind": "range",
        "key": key,
        "range_end": None,
        "revision": 0,
        "limit": 0,
        "keys_only": False,
        "count_only": False,
        "serializable": False,
    }


def test_recorder_records_and_checks(etcd_recorder: Any, etcd_seed: int) -> None:
    value = f"v{etcd_seed}"
    put = etcd_recorder.execute({"kind": "put", "key": "a", "value": value, "lease": 0, "prev_kv": False})
    assert put.status == "ok" and put.output["header"]["revision"] == 2
    got = etcd_recorder.execute(_get("a"))
    assert got.output["kvs"][0]["value"] == value
    assert got.output["kvs"][0]["mod_revision"] == 2


def test_cluster_fixture_is_a_real_cluster(etcd_cluster: Any) -> None:
    assert len(etcd_cluster.endpoints()) == 3
    assert etcd_cluster.leader() is not None
