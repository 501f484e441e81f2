"""A rolling upgrade of a real cluster, 3.4.23 to 3.5.1, on both backends: the cluster
version read before, during and after, and the data kept across each swap of builds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.cluster import admin, make_cluster
from tests.common.backends import binary_or_skip, require_backend

pytestmark = [pytest.mark.integration]


def cluster_versions(urls: list[str]) -> set[str]:
    return {admin.versions(u, timeout=2)[1] for u in urls}


@pytest.mark.parametrize("backend", ["process", pytest.param("docker", marks=pytest.mark.docker)])
def test_rolling_upgrade_moves_the_cluster_version_once_every_member_is_up(
    backend: str, tmp_path: Path
) -> None:
    require_backend(backend)
    old, new = binary_or_skip("3.4.23"), binary_or_skip("3.5.1")
    with make_cluster(backend, 3, old, tmp_path) as c:
        urls = c.endpoints()
        admin.put(urls[0], "before", "1")
        assert cluster_versions(urls) == {"3.4.0"}
        for m in c.members[:2]:
            c.upgrade(m, new)
        assert sorted(admin.versions(u)[0] for u in urls) == ["3.4.23", "3.5.1", "3.5.1"]
        assert cluster_versions(urls) == {"3.4.0"}, "a 3.4 member is left: the cluster stays 3.4"
        c.upgrade(c.members[2], new)
        deadline = time.monotonic() + 30
        while cluster_versions(urls) != {"3.5.0"} and time.monotonic() < deadline:
            time.sleep(0.5)
        assert cluster_versions(urls) == {"3.5.0"}
        assert {c.status(m).version for m in c.members} == {"3.5.1"}
        assert all(admin.get(u, "before") == b"1" for u in urls)
        assert all(m.restarts == 1 for m in c.members)
