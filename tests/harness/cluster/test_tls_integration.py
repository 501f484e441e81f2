"""TLS clusters on both backends: members serve only TLS, verified against the run's CA,
and refuse clients without the run's client certificate; kills, restarts and the peer
proxy (the delay fault's path) keep working."""

from __future__ import annotations

import ssl
import urllib.request
from pathlib import Path

import grpc
import pytest

from harness.client.etcd import EtcdClient
from harness.cluster import ClusterConfig, admin, make_cluster
from tests.common.backends import TEST_VERSION, binary_or_skip, require_backend

pytestmark = [pytest.mark.integration]


@pytest.mark.parametrize("backend", ["process", pytest.param("docker", marks=pytest.mark.docker)])
def test_a_tls_cluster_serves_only_verified_clients(backend: str, tmp_path: Path) -> None:
    require_backend(backend)
    cfg = ClusterConfig(tls=True, peer_proxy=True)
    with make_cluster(backend, 3, binary_or_skip(TEST_VERSION), tmp_path, config=cfg) as c:
        urls = c.endpoints()
        assert all(u.startswith("https://") for u in urls)
        admin.put(urls[0], "k", "v")
        with EtcdClient(urls[1]) as client:
            assert client.status().header.revision >= 2
        assert c.credentials is not None
        plain = urls[0].replace("https://", "http://") + "/version"
        with pytest.raises(OSError):
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(plain, timeout=3).read()
        anonymous = ssl.create_default_context(cafile=str(c.credentials.ca))
        with pytest.raises((ssl.SSLError, OSError)):
            urllib.request.urlopen(urls[0] + "/version", timeout=3, context=anonymous).read()
        channel = grpc.secure_channel(
            urls[0].removeprefix("https://"), grpc.ssl_channel_credentials(c.credentials.ca.read_bytes())
        )
        with pytest.raises(grpc.RpcError):
            channel.unary_unary("/etcdserverpb.Maintenance/Status")(b"", timeout=3)
        channel.close()
        leader = c.wait_leader(10)
        follower = next(m for m in c.members if m is not leader)
        c.kill(follower)
        admin.put(leader.client_url, "k", "w", timeout=10)
        c.restart(follower, wait=30)
        assert admin.get(follower.client_url, "k") == b"w"
        assert c.proxy is not None and sum(r.bytes_forwarded for r in c.proxy.routes.values()) > 0
