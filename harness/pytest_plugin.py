"""pytest plugin: write your own etcd consistency scenarios as tests.

Installed with the package (entry point ``pytest11``). Options: ``--etcd-version V``,
``--etcd-binary PATH``, ``--etcd-seed N``, ``--etcd-backend process|docker``,
``--etcd-history-dir DIR`` (keep each test's checked history there, as
``<test name>.jsonl``: what ``etcd-harness shrink`` reads back from a reproduction).

Fixtures:
- ``etcd_cluster``: a real 3-member cluster of its own for each test (namespaced members
  start in well under a second), so every history starts from an empty store;
- ``etcd_recorder``: a :class:`harness.client.api.RecordingClient` on the first member,
  etcd's verbs with typed responses; every call made through it (``execute(dict)``
  too) lands in a history that is checked against the etcd model when the test ends,
  so a test fails on any inconsistency without asserting anything itself;
- ``etcd_seed``: the seed for the test's own randomness (``--etcd-seed``, printed).

Example::

    import pytest
    from harness.client.api import CompactedError, op, value

    def test_puts_are_visible(etcd_recorder):
        put = etcd_recorder.put("a", "1")
        assert etcd_recorder.get("a").kv.value == "1"
        swap = etcd_recorder.txn([value("a") == "1"], then=[op.put("a", "2")], otherwise=[op.get("a")])
        assert swap.succeeded and swap.revision == put.revision + 1
        etcd_recorder.compact(swap.revision)
        with pytest.raises(CompactedError):
            etcd_recorder.get("a", revision=put.revision)

A call etcd did not answer raises :class:`harness.client.api.EtcdCallError` (it is in
the history all the same); ``.record`` of a response or an error is its OpRecord.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.client.api import RecordingClient


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("etcd-harness")
    group.addoption(
        "--etcd-version", default=None, help="etcd version for etcd_cluster (from the harness cache)"
    )
    group.addoption("--etcd-binary", default=None, help="etcd binary for etcd_cluster")
    group.addoption("--etcd-seed", type=int, default=None, help="seed for etcd_seed (default: random)")
    group.addoption("--etcd-backend", default="process", choices=("process", "docker"))
    group.addoption("--etcd-history-dir", default=None, help="keep each test's history in this directory")


@pytest.fixture(scope="session")
def etcd_seed(request: pytest.FixtureRequest) -> int:
    seed = request.config.getoption("--etcd-seed")
    if seed is None:
        seed = random.SystemRandom().randrange(1 << 31)
    print(f"\netcd-harness: --etcd-seed {seed}")
    return int(seed)


@pytest.fixture(scope="session")
def etcd_binary(request: pytest.FixtureRequest) -> Any:
    """The build the clusters run (``--etcd-version``/``--etcd-binary``), with the version
    it reports."""
    from harness.cluster.binaries import resolve

    return resolve(request.config.getoption("--etcd-version"), request.config.getoption("--etcd-binary"))


@pytest.fixture
def etcd_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, etcd_binary: Any
) -> Iterator[Any]:
    from harness.cluster import make_cluster

    out = tmp_path_factory.mktemp("etcd-cluster")
    with make_cluster(request.config.getoption("--etcd-backend"), 3, etcd_binary, out) as cluster:
        yield cluster


@pytest.fixture
def etcd_recorder(
    etcd_cluster: Any, etcd_binary: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[RecordingClient]:
    from harness import __version__
    from harness.client.api import RecordingClient
    from harness.client.etcd import EtcdClient
    from harness.client.recorder import Clock, Counter, Recorder
    from harness.history.jsonl import HistoryWriter, read_history
    from models.check import check
    from models.history import EndRecord, Header

    path = tmp_path / "history.jsonl"
    header = Header(
        tool_version=__version__,
        cluster=etcd_cluster.describe(),
        model="etcd",
        scenario="pytest",
        # The build, so that the check can name the known bug of that build it shows.
        etcd_versions=[etcd_binary.version],
    )
    writer = HistoryWriter(path, header)
    clock = Clock()
    with EtcdClient(etcd_cluster.endpoints()[0], timeout=5.0) as client:
        api = RecordingClient(Recorder(client, writer, clock, Counter(), 0))
        yield api
        api.close()
    writer.close(EndRecord(time=clock()))
    _keep(path, request)
    hist = read_history(str(path))
    res = check(hist, timeout=60)
    if res.verdict == "illegal":
        lines = "\n".join(f"  {a.kind}: {a.message}{_bug(a.details)}" for a in res.anomalies[:5])
        pytest.fail(f"etcd history is not consistent ({path}):\n{lines}", pytrace=False)


def _keep(path: Path, request: pytest.FixtureRequest) -> None:
    import shutil

    keep = request.config.getoption("--etcd-history-dir")
    if keep:
        name = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in request.node.name)
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(keep) / f"{name}.jsonl")


def _bug(details: dict[str, Any]) -> str:
    bug = details.get("known_bug") or {}
    return f" (known bug {bug['id']}, fixed in {bug.get('fixed_in', '?')})" if bug.get("id") else ""
