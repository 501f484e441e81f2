"""The Docker backend against an engine other than the local one, through ``DOCKER_HOST``.

A second dockerd runs in a network namespace of its own (its bridges and iptables rules
apart from the first engine's) on its own socket, and the harness runs in that namespace
too, as it would on the machine of a remote engine whose internal networks it can
route to: it reaches the engine only through ``DOCKER_HOST``, builds its images there,
and what it leaves behind is that engine's to clean up.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.common.backends import binary_or_skip, require_backend

pytestmark = [pytest.mark.integration, pytest.mark.docker]

#: Not ``ehx*``: the harness's own sweep must not take this namespace for a leftover.
NETNS = "etcd-harness-engine2"
SOCKET = "/run/etcd-harness-engine2.sock"
PIDFILE = "/run/etcd-harness-engine2.pid"


def _docker_ok(env: dict[str, str]) -> bool:
    return subprocess.run(["docker", "info"], env=env, capture_output=True, timeout=20).returncode == 0


@pytest.fixture(scope="module")
def engine2() -> Iterator[dict[str, str]]:
    """DOCKER_HOST of a second engine, and the command prefix that enters its namespace."""
    require_backend("docker")
    if shutil.which("dockerd") is None or shutil.which("nsenter") is None:
        pytest.skip("dockerd and nsenter are needed for a second engine")
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    subprocess.run(["ip", "netns", "exec", NETNS, "ip", "link", "set", "lo", "up"], check=True)
    env = dict(os.environ, DOCKER_HOST=f"unix://{SOCKET}")
    log = open(Path("/run") / "etcd-harness-engine2.log", "wb")  # noqa: SIM115 - lives as long as the engine
    argv = [
        "nsenter",
        f"--net=/run/netns/{NETNS}",
        "dockerd",
        f"--host=unix://{SOCKET}",
        "--data-root=/var/lib/etcd-harness-engine2",
        "--exec-root=/run/etcd-harness-engine2",
        f"--pidfile={PIDFILE}",
        "--bridge=none",
    ]
    daemon = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _docker_ok(env):
            if daemon.poll() is not None or time.monotonic() > deadline:
                pytest.skip("the second dockerd did not come up; see /run/etcd-harness-engine2.log")
            time.sleep(0.5)
        yield env
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            daemon.wait(timeout=30)
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGKILL)
        log.close()
        subprocess.run(["ip", "netns", "delete", NETNS], check=False)


def _harness(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = ["nsenter", f"--net=/run/netns/{NETNS}", sys.executable, "-m", "harness.cli", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)


def _names(env: dict[str, str], *listing: str) -> set[str]:
    """The harness's objects (named ehx*) that ``docker <listing> --format ...`` shows."""
    out = subprocess.run(["docker", *listing], env=env, capture_output=True, text=True, timeout=30).stdout
    return {n for n in out.split() if n.startswith("ehx")}


CONTAINERS = ("ps", "-a", "--format", "{{.Names}}")
NETWORKS = ("network", "ls", "--format", "{{.Name}}")


def test_a_run_on_a_second_engine_uses_only_that_engine(engine2: dict[str, str], tmp_path: Path) -> None:
    binary_or_skip("3.4.23")
    local = dict(os.environ)
    local.pop("DOCKER_HOST", None)
    before_local = _names(local, *CONTAINERS)
    out = tmp_path / "remote"
    args = ["run", "smoke", "--backend", "docker", "--etcd-version", "3.4.23", "--seed", "2"]
    res = _harness(engine2, *args, "--out", str(out), "--no-progress")
    assert res.returncode == 0, res.stdout + res.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verdict"] == "ok" and summary["faults"], summary
    assert _names(engine2, *CONTAINERS) == set() and _names(engine2, *NETWORKS) == set(), (
        "the run left objects behind"
    )
    assert _names(local, *CONTAINERS) == before_local, "the run touched the local engine"
