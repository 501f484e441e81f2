"""Docker-backend clusters: a dynamically linked binary in a FROM-scratch image, mixed versions, labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cluster import admin, make_cluster
from harness.cluster.binaries import BinaryError, EtcdBinary, resolve
from harness.cluster.ledger import LABEL_RUN
from tests.common.backends import require_backend

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def binary(version: str) -> EtcdBinary:
    try:
        return resolve(version)
    except BinaryError as exc:
        pytest.skip(f"etcd {version} unavailable: {exc}")


def test_mixed_versions_on_an_internal_network(tmp_path: Path) -> None:
    require_backend("docker")
    bins = [binary("3.4.23"), binary("3.5.1"), binary("3.5.1")]
    with make_cluster("docker", 3, bins, tmp_path) as c:
        assert sorted(c.status(m).version for m in c.members) == ["3.4.23", "3.5.1", "3.5.1"]
        assert all(u.startswith("http://198.19.") for u in c.endpoints())
        net = c.client.networks.get(c.network_name)
        assert net.attrs["Internal"] is True
        assert net.attrs["Labels"][LABEL_RUN] == c.run_id
        for m in c.members:
            attrs = c.client.api.inspect_container(c.containers[m.name])
            assert attrs["HostConfig"]["Dns"] == ["127.0.0.1"]
            assert attrs["NetworkSettings"]["Ports"] in ({}, None) or not any(
                attrs["NetworkSettings"]["Ports"].values()
            )
            assert c.pid(m)
        admin.put(c.endpoints()[0], "k", "v")
        victim = c.members[2]
        c.kill(victim)
        assert c.pid(victim) is None
        c.restart(victim, wait=20)
        assert admin.get(victim.client_url, "k", serializable=True) == b"v"
        assert any(victim.data_dir.iterdir())
    assert not c.client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={c.run_id}"})


def test_user_named_image_reports_its_own_version(tmp_path: Path) -> None:
    require_backend("docker")
    from harness.cluster.docker import build_image, connect

    client = connect()
    tag = build_image(client, binary("3.4.23"))
    client.close()
    with make_cluster("docker", 1, None, tmp_path, image=tag) as c:
        assert [m.version for m in c.members] == ["3.4.23"]
        assert c.status(c.members[0]).version == "3.4.23"


def test_missing_image_is_not_pulled(tmp_path: Path) -> None:
    require_backend("docker")
    from harness.cluster import ClusterError

    with pytest.raises(ClusterError, match="never pulls"):
        make_cluster("docker", 1, None, tmp_path, image="gcr.io/etcd-development/etcd:v0.0.0-none").start()
