"""Members as child processes: the default backend, needing neither Docker nor a daemon.

Each member runs in its own session (so a fault signals the whole group) with
PR_SET_PDEATHSIG=SIGKILL, so it dies with the harness even when the harness is SIGKILLed.
The death signal fires when the *thread* that forked the child ends, so every member is
forked by one long-lived spawner thread, never by a short-lived fault thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from harness.cluster import netns as netns_mod
from harness.cluster import ports
from harness.cluster.base import (
    STOP_GRACE_S,
    Cluster,
    ClusterConfig,
    ClusterError,
    Member,
    NotRootError,
    PortInUseError,
)
from harness.cluster.binaries import EtcdBinary
from harness.cluster.ledger import proc_start_time

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


class _Spawner:
    """Forks children from one daemon thread that lives as long as the interpreter."""

    def __init__(self) -> None:
        self._q: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="etcd-spawner", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            fn, fut = self._q.get()
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)

    def call(self, fn: Callable[[], Any]) -> Any:
        fut: Future[Any] = Future()
        self._q.put((fn, fut))
        return fut.result(timeout=30)


_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def spawn(
    argv: list[str], *, log_path: Path, ns: str | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
    parent = os.getpid()

    def preexec() -> None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(120)
        if ns:
            netns_mod.enter(ns)

    def start() -> subprocess.Popen[bytes]:
        with open(log_path, "ab") as log:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=preexec,
                env=env,
                close_fds=True,
            )

    return _spawner.call(start)  # type: ignore[no-any-return]


class ProcessCluster(Cluster):
    backend = "process"

    def __init__(
        self,
        binaries: Sequence[EtcdBinary],
        out_dir: str | os.PathLike[str],
        config: ClusterConfig,
        name: str | None = None,
        netns: bool | None = None,
    ):
        super().__init__(binaries, out_dir, config, name)
        ok, why = netns_mod.can_use_netns()
        if netns and not ok:
            raise NotRootError(why)
        self.use_netns = ok if netns is None else netns
        self.netns_reason = "" if self.use_netns else (why or "started with --no-netns")
        self.plumbing: netns_mod.Plumbing | None = None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._ports: list[int] = []

    # provisioning -------------------------------------------------------------------

    def _provision(self) -> None:
        assert self.state is not None
        n = self.config.size
        if self.use_netns:
            subnet = self.config.subnet or netns_mod.default_subnet(self.slot)
            self.plumbing = netns_mod.Plumbing(self.slot, subnet, self.state)
            try:
                self.plumbing.create(n)
            except netns_mod.NetnsError as exc:
                raise ClusterError(f"cluster {self.name}: {exc}") from None
            addrs = [(self.plumbing.member_ip(i), 2379, 2380) for i in range(n)]
            proxy_host = self.plumbing.host_ip
            proxy_ports = ports.free_ports(n, "0.0.0.0") if self.config.peer_proxy else []
            self._ports = proxy_ports
        else:
            got = ports.free_ports(3 * n if self.config.peer_proxy else 2 * n)
            self._ports = got
            addrs = [("127.0.0.1", got[2 * i], got[2 * i + 1]) for i in range(n)]
            proxy_host = "127.0.0.1"
            proxy_ports = got[2 * n :]
        self.members = []
        for i, (addr, cport, pport) in enumerate(addrs):
            d = self.out_dir / "data" / f"m{i}"
            self.fresh_dir(d, self.out_dir / f"m{i}.log")
            m = Member(
                name=f"m{i}",
                index=i,
                binary=self.binaries[i],
                ip=addr,
                client_port=cport,
                peer_port=pport,
                data_dir=d,
                log_path=self.out_dir / f"m{i}.log",
            )
            if self.config.peer_proxy:
                m.peer_host, m.peer_adv_port = proxy_host, proxy_ports[i]
            self.members.append(m)

    def start(self) -> Cluster:
        """Retry with fresh ports when a loopback port was taken between probe and bind."""
        for attempt in range(3):
            try:
                return super().start()
            except PortInUseError:
                if attempt == 2:
                    raise
                self.run_id = self.run_id.rsplit("-r", 1)[0] + f"-r{attempt + 1}"
                self.name = ""
        raise AssertionError("unreachable")

    def _launch(self, m: Member, initial_cluster: str, state: str) -> None:
        argv = [m.binary.path, *self.etcd_args(m, initial_cluster, state)]
        with open(m.log_path, "ab") as log:
            log.write(f"\n# {time.strftime('%H:%M:%S')} start {' '.join(argv)}\n".encode())
        ns = self.plumbing.member_ns(m.index) if self.plumbing else None
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ETCD_UNSUPPORTED_ARCH": os.environ.get("ETCD_UNSUPPORTED_ARCH", ""),
        }
        try:
            p = spawn(argv, log_path=m.log_path, ns=ns, env={k: v for k, v in env.items() if v})
        except FileNotFoundError:
            raise ClusterError(f"etcd binary not found: {m.binary.path}") from None
        self.procs[m.name] = p
        assert self.state is not None
        self.state.add("pids", [p.pid, proc_start_time(p.pid)])
        m.state = "running"

    def _check_alive(self, members: Sequence[Member]) -> None:
        for m in members:
            p = self.procs.get(m.name)
            if p is None or p.poll() is None:
                continue
            text = self.logs(m)
            if "address already in use" in text:
                raise PortInUseError(
                    f"cluster {self.name}: {m.name}'s port is in use ({m.client_url} / {m.listen_peer_url})"
                )
            raise ClusterError(
                f"cluster {self.name}: {m.name} exited with code {p.returncode}{self._log_hint(m)}"
            )

    def _kill_member(self, m: Member, *, final: bool = False) -> None:
        p = self.procs.pop(m.name, None)
        if p is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=10)
        if self.state is not None:
            for entry in list(self.state.data["pids"]):
                if entry[0] == p.pid:
                    self.state.discard("pids", entry)
        m.state = "stopped" if final else "killed"

    def _stop_member(self, m: Member) -> None:
        p = self.procs.get(m.name)
        if p is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=STOP_GRACE_S)
        self._kill_member(m)

    def _signal_pause(self, m: Member, pause: bool) -> None:
        p = self.procs.get(m.name)
        if p is None:
            raise ClusterError(f"{m.name} is not running")
        os.killpg(p.pid, signal.SIGSTOP if pause else signal.SIGCONT)

    def _teardown(self) -> None:
        if self.plumbing is not None:
            self.plumbing.destroy()
        ports.release(self._ports)

    # inspection ---------------------------------------------------------------------

    def pid(self, member: Member | str | int) -> int | None:
        p = self.procs.get(self.member(member).name)
        return p.pid if p is not None and p.poll() is None else None

    def logs(self, member: Member | str | int) -> str:
        try:
            return self.member(member).log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, member: Member | str | int, offset: int) -> tuple[str, int]:
        """Read from the byte ``offset`` on, so that following a large log stays cheap."""
        try:
            with self.member(member).log_path.open("rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            return "", offset
        return data.decode(errors="replace"), offset + len(data)

    def netns_available(self) -> tuple[bool, str]:
        if self.plumbing is None:
            return (
                False,
                f"members run on 127.0.0.1 without network namespaces ({self.netns_reason}); network faults are unavailable",
            )
        return True, ""

    def net_exec(self, member: Member | str | int, argv: list[str], timeout: float = 10.0) -> str:
        if self.plumbing is None:
            raise ClusterError(self.netns_available()[1])
        m = self.member(member)
        try:
            res = self.plumbing.exec(m.index, argv, timeout)
        except subprocess.TimeoutExpired:
            raise ClusterError(f"{' '.join(argv)} in {m.name}'s namespace timed out") from None
        if res.returncode != 0:
            raise ClusterError(f"{' '.join(argv)} in {m.name}'s namespace: {res.stderr.strip()}")
        return res.stdout
