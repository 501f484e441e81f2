"""Real etcd clusters on two backends (child processes in namespaces, or Docker containers)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from harness.cluster.base import (
    Cluster,
    ClusterConfig,
    ClusterError,
    DockerUnavailableError,
    Member,
    NotRootError,
    PortInUseError,
)
from harness.cluster.binaries import EtcdBinary, resolve

BACKENDS = ("process", "docker")


def make_cluster(
    backend: str = "process",
    size: int = 3,
    binary: EtcdBinary | Sequence[EtcdBinary] | None = None,
    out_dir: str | os.PathLike[str] = "out",
    *,
    netns: bool | None = None,
    name: str | None = None,
    subnet: str | None = None,
    config: ClusterConfig | None = None,
    image: str | None = None,
    peer_proxy: bool = False,
) -> Cluster:
    """Build (not start) a cluster; ``with make_cluster(...) as c:`` starts and always stops it.

    ``binary`` may be a list with one binary per member for a mixed-version cluster.
    """
    cfg = config or ClusterConfig()
    cfg.size = size
    if subnet:
        cfg.subnet = subnet
    if peer_proxy:
        cfg.peer_proxy = True
    if binary is None and image:
        bins: list[EtcdBinary] = [EtcdBinary(f"docker-image:{image}", "unknown")]
    elif binary is None:
        bins = [resolve()]
    elif isinstance(binary, EtcdBinary):
        bins = [binary]
    else:
        bins = list(binary)
    if backend == "process":
        from harness.cluster.process import ProcessCluster

        return ProcessCluster(bins, out_dir, cfg, name=name, netns=netns)
    if backend == "docker":
        from harness.cluster.docker import DockerCluster

        return DockerCluster(bins, out_dir, cfg, name=name, image=image)
    raise ClusterError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")


__all__ = [
    "BACKENDS",
    "Cluster",
    "ClusterConfig",
    "ClusterError",
    "DockerUnavailableError",
    "Member",
    "NotRootError",
    "PortInUseError",
    "make_cluster",
]
