"""Clusters shared by a test module: starting one costs 0.5-5 s, a fault test far less."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster import Cluster, ClusterError, admin, make_cluster
from harness.cluster.binaries import BinaryError, EtcdBinary, resolve
from tests.common.backends import TEST_VERSION, require_backend


@pytest.fixture(scope="session")
def etcd_binary() -> EtcdBinary:
    try:
        return resolve(TEST_VERSION)
    except BinaryError as exc:
        pytest.skip(f"no etcd {TEST_VERSION}: {exc}")


BACKENDS = [
    pytest.param("process", marks=pytest.mark.integration),
    pytest.param("docker", marks=[pytest.mark.integration, pytest.mark.docker]),
]


@pytest.fixture(scope="module", params=BACKENDS)
def cluster(
    request: pytest.FixtureRequest, etcd_binary: EtcdBinary, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """A 3-member cluster whose peer traffic goes through the proxy, so every fault applies."""
    backend: str = request.param
    require_backend(backend)
    out: Path = tmp_path_factory.mktemp(f"{backend}-cluster")
    with make_cluster(backend, 3, etcd_binary, out, peer_proxy=True) as c:
        yield c


@pytest.fixture
def healthy(cluster: Cluster) -> Iterator[Cluster]:
    """Hands the shared cluster over healthy and checks each test gives it back healthy."""
    for m in cluster.members:
        if m.state == "paused":
            cluster.resume(m)
        elif m.state in ("killed", "stopped"):
            cluster.restart(m)
    try:
        cluster.wait_healthy(30)
    except ClusterError as exc:
        # One test's crash must not fail every later one: a member left running but
        # unhealthy is replaced by a clean one, and the reason is printed.
        print(f"replacing unhealthy members: {exc}")
        for m in cluster.members:
            if not admin.health(m.client_url, 1.0):
                cluster.replace_member(m)
        cluster.wait_healthy(30)
    yield cluster
    cluster.wait_healthy(30)
    assert len([m for m in cluster.members if m.state == "running"]) == len(cluster.members)
