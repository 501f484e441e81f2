"""Fast checks of the cluster plumbing that need no etcd: ports, subnets, gRPC decoding, proxy delay."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from harness.cluster import ClusterConfig, admin, ports
from harness.cluster.base import Member
from harness.cluster.binaries import EtcdBinary
from harness.cluster.netns import Plumbing, default_subnet
from harness.cluster.peerproxy import PeerProxy


def test_free_ports_are_distinct_and_bindable() -> None:
    got = ports.free_ports(6)
    assert len(set(got)) == 6
    assert all(ports.port_is_free(p) for p in got)
    again = ports.free_ports(6)
    assert not set(got) & set(again)
    ports.release(got + again)


def test_a_listening_port_is_not_free() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        assert not ports.port_is_free(s.getsockname()[1])
    finally:
        s.close()


def test_subnets_differ_per_slot() -> None:
    assert default_subnet(0) == "198.18.0.0/24"
    assert default_subnet(1) == "198.18.1.0/24"
    assert default_subnet(256) == "198.19.0.0/24"
    p = Plumbing(slot=4, subnet="169.254.10.0/24", state=None)  # type: ignore[arg-type]
    assert p.host_ip == "169.254.10.1" and p.member_ip(0) == "169.254.10.2"
    assert p.bridge_ns == "ehx4b" and p.member_ns(2) == "ehx4m2" and len(p.host_link) <= 15


def test_member_urls() -> None:
    m = Member("m0", 0, EtcdBinary("/x", "3.5.1"), "198.18.0.2", 2379, 2380, Path("d"), Path("l"))
    assert (m.client_url, m.peer_url, m.listen_peer_url) == (
        "http://198.18.0.2:2379",
        "http://198.18.0.2:2380",
        "http://198.18.0.2:2380",
    )
    m.peer_host, m.peer_adv_port = "198.18.0.1", 12380
    assert m.peer_url == "http://198.18.0.1:12380" and m.listen_peer_url == "http://198.18.0.2:2380"


def test_etcd_args_carry_timeouts_and_token(tmp_path: Path) -> None:
    from harness.cluster.process import ProcessCluster

    cfg = ClusterConfig(size=1, heartbeat_ms=20, election_ms=300, snapshot_count=500)
    c = ProcessCluster([EtcdBinary("/x", "3.5.1")], tmp_path, cfg, name="t", netns=False)
    c.run_id = "r"
    m = Member("m0", 0, EtcdBinary("/x", "3.5.1"), "127.0.0.1", 1, 2, tmp_path, tmp_path / "l")
    args = c.etcd_args(m, "m0=http://127.0.0.1:2", "new")
    flags = dict(zip(args[::2], args[1::2], strict=True))
    assert flags["--heartbeat-interval"] == "20" and flags["--election-timeout"] == "300"
    assert flags["--snapshot-count"] == "500" and flags["--initial-cluster-token"] == "ehx-t-r"


def test_protobuf_decoding() -> None:
    assert admin._varint(300) == b"\xac\x02"
    header = b"\x18" + admin._varint(42)
    msg = (
        b"\x0a" + bytes([len(header)]) + header + b"\x10" + admin._varint(123456) + b"\x18" + admin._varint(7)
    )
    fields = admin._decode(msg)
    assert fields[2] == 123456 and fields[3] == 7 and admin._decode(fields[1]) == {3: 42}


def test_int64_strings_and_base64() -> None:
    assert admin._int("12345678901234") == 12345678901234 and admin._int(None) == 0
    assert admin.unb64(admin.b64("héllo")) == "héllo".encode()


def test_unreachable_member_is_unavailable() -> None:
    port = ports.free_ports(1)[0]
    with pytest.raises(admin.AdminError) as err:
        admin.status(f"http://127.0.0.1:{port}", timeout=1)
    assert err.value.unavailable
    assert admin.health(f"http://127.0.0.1:{port}", timeout=1) is False


def _echo_server() -> tuple[socket.socket, int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=lambda c=conn: _echo(c), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)


def _rtt(port: int, n: int = 5) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        best = 1e9
        for _ in range(n):
            t0 = time.monotonic()
            s.sendall(b"ping")
            assert s.recv(16) == b"ping"
            best = min(best, time.monotonic() - t0)
    return best


def test_proxy_adds_the_configured_delay_each_way() -> None:
    srv, target = _echo_server()
    listen = ports.free_ports(1)[0]
    proxy = PeerProxy("t")
    try:
        proxy.add_route("m0", "127.0.0.1", listen, "127.0.0.1", target)
        base = _rtt(listen)
        proxy.set_delay(["m0"], 50)
        delayed = _rtt(listen)
        proxy.set_delay(None, 0)
        assert base < 0.03
        assert 0.095 <= delayed - base <= 0.2
        assert proxy.routes["m0"].bytes_forwarded > 0 and proxy.routes["m0"].connections == 2
    finally:
        proxy.close()
        srv.close()


def test_docker_not_running_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import docker
    from harness.cluster import DockerUnavailableError
    from harness.cluster.docker import connect

    def refuse(**kw: object) -> None:
        raise docker.errors.DockerException("Error while fetching server API version: connection refused")

    monkeypatch.setattr(docker, "from_env", refuse)
    with pytest.raises(DockerUnavailableError, match="Docker is not running") as err:
        connect()
    assert "\n" not in str(err.value)
