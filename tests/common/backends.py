"""Which backends a test machine can run, and the etcd version the fault tests use."""

from __future__ import annotations

import os

import pytest

from harness.cluster.binaries import BinaryError, EtcdBinary, resolve
from harness.cluster.dockerd import ensure_dockerd

TEST_VERSION = os.environ.get("ETCD_HARNESS_TEST_VERSION", "3.5.1")


def require_backend(backend: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("fault tests need root (namespaces, nsenter, iptables)")
    if backend == "docker":
        ok, why = ensure_dockerd(timeout=60)
        if not ok:
            pytest.skip(f"Docker engine unavailable: {why}")


def binary_or_skip(version: str) -> EtcdBinary:
    """The build of ``version``, or the test is skipped where it cannot be had."""
    try:
        return resolve(version)
    except BinaryError as exc:
        pytest.skip(f"etcd {version} unavailable: {exc}")
