"""A harness killed with SIGKILL leaves nothing behind once ``cleanup`` ran; SIGTERM needs no cleanup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from harness.cluster.ledger import PREFIX, StateFile, list_netns, owner_alive, owner_token, state_dir
from harness.cluster.sweep import cleanup
from tests.common.backends import TEST_VERSION, require_backend

CHILD = textwrap.dedent(
    """
    import json, sys, time
    from harness.cluster.binaries import resolve
    from harness.cluster import make_cluster
    c = make_cluster(sys.argv[1], 3, resolve(sys.argv[2]), sys.argv[3], peer_proxy=True)
    c.start()
    info = {"run_id": c.run_id, "slot": c.slot, "pids": [c.pid(m) for m in c.members],
            "containers": list(getattr(c, "containers", {}).values()), "network": getattr(c, "network_name", "")}
    print(json.dumps(info), flush=True)
    time.sleep(300)
    """
)


def start_child(backend: str, out: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    root = Path(__file__).resolve().parents[2]
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD, backend, TEST_VERSION, str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert p.stdout is not None
    line = p.stdout.readline()
    if not line:
        p.wait(10)
        pytest.fail(f"child did not start a cluster: {p.stderr.read() if p.stderr else ''}")
    return p, json.loads(line)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def wait_gone(pids: list[int], timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    left = pids
    while left and time.monotonic() < deadline:
        left = [p for p in left if alive(p)]
        time.sleep(0.1)
    return left


def docker_leftovers(run_id: str) -> tuple[list[Any], list[Any]]:
    import docker

    client = docker.from_env()
    try:
        flt = {"label": f"etcd-harness.run={run_id}"}
        return client.containers.list(all=True, filters=flt), client.networks.list(filters=flt)
    finally:
        client.close()


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["process", pytest.param("docker", marks=pytest.mark.docker)])
def test_sigkilled_harness_is_cleaned_up(backend: str, tmp_path: Path) -> None:
    require_backend(backend)
    child, info = start_child(backend, tmp_path)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    state = state_dir() / f"{info['run_id']}.json"
    assert state.exists(), "the state file must survive a SIGKILL"
    if backend == "process":
        # PR_SET_PDEATHSIG: the members die with the harness, before any cleanup.
        assert wait_gone(info["pids"]) == []
        assert any(n.startswith(f"{PREFIX}{info['slot']}") for n in list_netns())
    else:
        containers, _ = docker_leftovers(info["run_id"])
        assert containers, "containers outlive a SIGKILLed harness until cleanup"
    rep = cleanup()
    assert str(state) in rep.state_files
    assert not state.exists()
    assert wait_gone(info["pids"]) == []
    assert not [n for n in list_netns() if n.startswith(f"{PREFIX}{info['slot']}b")]
    assert not Path(f"/sys/class/net/{PREFIX}{info['slot']}h").exists()
    if backend == "docker":
        assert docker_leftovers(info["run_id"]) == ([], [])


@pytest.mark.integration
def test_sigterm_stops_the_cluster_without_cleanup(tmp_path: Path) -> None:
    require_backend("process")
    child, info = start_child("process", tmp_path)
    child.send_signal(signal.SIGTERM)
    assert child.wait(20) == 128 + signal.SIGTERM
    assert wait_gone(info["pids"]) == []
    assert not (state_dir() / f"{info['run_id']}.json").exists()
    assert not [n for n in list_netns() if n.startswith(f"{PREFIX}{info['slot']}")]


def test_state_file_owner_and_removal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETCD_HARNESS_CACHE", str(tmp_path))
    s = StateFile("r1", "process", 3)
    s.add("pids", [1, 2])
    s.add("pids", [1, 2])
    data = json.loads(s.path.read_text())
    assert data["pids"] == [[1, 2]] and data["slot"] == 3 and owner_alive(data["owner"])
    assert not owner_alive([os.getpid(), owner_token()[1] + 1])
    s.discard("pids", [1, 2])
    assert json.loads(s.path.read_text())["pids"] == []
    s.remove()
    assert not s.path.exists()


def test_cleanup_removes_state_of_dead_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETCD_HARNESS_CACHE", str(tmp_path))
    dead = StateFile("dead", "process", 7)
    dead.data["owner"] = [2**22 + 17, 1]
    dead.add("pids", [2**22 + 18, 1])
    live = StateFile("live", "process", 8)
    rep = cleanup(docker=False, sweep=False)
    assert rep.state_files == [str(dead.path)] and rep.skipped_live == ["live"]
    assert live.path.exists() and not dead.path.exists()
    live.remove()
