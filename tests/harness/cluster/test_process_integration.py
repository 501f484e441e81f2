"""Process-backend clusters: namespaces or loopback, versions side by side, mixed versions."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from harness.cluster import ClusterError, admin, make_cluster, ports
from harness.cluster.binaries import BinaryError, EtcdBinary, resolve
from harness.faults import make_fault
from tests.common.backends import require_backend

pytestmark = pytest.mark.integration


def binary(version: str) -> EtcdBinary:
    try:
        return resolve(version)
    except BinaryError as exc:
        pytest.skip(f"etcd {version} unavailable: {exc}")


def test_two_versions_side_by_side_in_namespaces(tmp_path: Path) -> None:
    require_backend("process")
    with (
        make_cluster("process", 3, binary("3.4.23"), tmp_path / "a") as a,
        make_cluster("process", 3, binary("3.5.1"), tmp_path / "b") as b,
    ):
        assert a.slot != b.slot
        assert {a.status(m).version for m in a.members} == {"3.4.23"}
        assert {b.status(m).version for m in b.members} == {"3.5.1"}
        assert not set(a.endpoints()) & set(b.endpoints())
        assert all(u.startswith("http://198.18.") for u in a.endpoints() + b.endpoints())
        admin.put(a.endpoints()[0], "k", "a")
        assert admin.get(b.endpoints()[0], "k") is None
        assert a.netns_available() == (True, "")
        assert a.describe()["members"][0]["version"] == "3.4.23"
        for c in (a, b):
            for m in c.members:
                assert m.data_dir.is_relative_to(c.out_dir) and m.log_path.exists()
                assert "raft" in c.logs(m) or "etcdserver" in c.logs(m)


def test_mixed_version_cluster(tmp_path: Path) -> None:
    require_backend("process")
    bins = [binary("3.4.23"), binary("3.5.1"), binary("3.5.1")]
    with make_cluster("process", 3, bins, tmp_path) as c:
        assert sorted(c.status(m).version for m in c.members) == ["3.4.23", "3.5.1", "3.5.1"]
        assert c.versions() == ["3.4.23", "3.5.1"]
        admin.put(c.endpoints()[1], "mixed", "yes")
        assert admin.get(c.endpoints()[0], "mixed") == b"yes"


def test_starting_a_started_cluster_again_claims_nothing_more(tmp_path: Path) -> None:
    from harness.cluster.ledger import list_netns

    require_backend("process")
    before = set(list_netns())
    with make_cluster("process", 1, binary("3.4.23"), tmp_path) as c:
        ours = set(list_netns()) - before
        assert c.start() is c
        assert set(list_netns()) - before == ours
    assert not set(list_netns()) - before


def test_loopback_without_namespaces(tmp_path: Path) -> None:
    with make_cluster("process", 3, binary("3.5.1"), tmp_path, netns=False) as c:
        assert all(u.startswith("http://127.0.0.1:") for u in c.endpoints())
        ok, why = c.netns_available()
        assert not ok and "network faults are unavailable" in why
        ok, why = make_fault("partition").available(c)
        assert not ok and "127.0.0.1" in why
        leader = c.leader()
        assert leader is not None
        c.kill(leader)
        assert c.wait_leader(10, exclude=[leader]) is not leader
        c.restart(leader, wait=15)
        assert c.healthy()


def test_taken_port_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy = taken.getsockname()[1]
    real = ports.free_ports
    calls = []

    def first_busy(count: int, host: str = "127.0.0.1", **kw: object) -> list[int]:
        got = real(count, host)
        calls.append(got)
        return [busy, *got[1:]] if len(calls) == 1 else got

    monkeypatch.setattr(ports, "free_ports", first_busy)
    try:
        with make_cluster("process", 1, binary("3.5.1"), tmp_path, netns=False) as c:
            assert len(calls) == 2 and str(busy) not in c.endpoints()[0]
            assert c.healthy()
    finally:
        taken.close()


def test_bad_binary_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(BinaryError, match="not found"):
        resolve(path=str(tmp_path / "no-etcd"))


def test_not_root_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ClusterError, match="root"):
        make_cluster("process", 3, binary("3.5.1"), tmp_path, netns=True)


def test_partitions_without_proxy(tmp_path: Path) -> None:
    """Rules on the members' own peer addresses (no relay in between) cut the leader off too."""
    require_backend("process")
    with make_cluster("process", 3, binary("3.5.1"), tmp_path) as c:
        fault = make_fault("partition", mode="isolate-leader")
        import random

        fault.inject(c, random.Random(1))
        (old,) = fault.targets
        new = c.wait_leader(15, exclude=[old], among=[m for m in c.members if m is not old])
        assert new is not old
        fault.heal(c)
        c.wait_healthy(15)
        assert c.wait_leader(10) in c.members


def test_configured_subnet_and_overlap_refused(tmp_path: Path) -> None:
    require_backend("process")
    with make_cluster("process", 1, binary("3.5.1"), tmp_path / "a", subnet="169.254.77.0/24") as c:
        assert c.endpoints() == ["http://169.254.77.2:2379"]
        with pytest.raises(ClusterError, match="overlaps"):
            make_cluster("process", 1, binary("3.5.1"), tmp_path / "b", subnet="169.254.77.0/25").start()
