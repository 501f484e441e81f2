"""Fixtures of the client's integration tests: a throwaway etcd per module or per test
(see tests.common.local_etcd)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.common.local_etcd import BINARIES, VERSIONS, LocalEtcd, start_etcd


@pytest.fixture(scope="module", params=VERSIONS)
def etcd(request: pytest.FixtureRequest) -> Iterator[LocalEtcd]:
    """One member per etcd version present, shared by a module's tests (use unique keys)."""
    node = start_etcd(request.param, BINARIES[request.param])
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(params=VERSIONS)
def own_etcd(request: pytest.FixtureRequest) -> Iterator[LocalEtcd]:
    """A member for one test alone (it may be paused, compacted, or broken)."""
    node = start_etcd(request.param, BINARIES[request.param])
    try:
        yield node
    finally:
        node.stop()
