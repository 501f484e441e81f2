"""The interface every backend offers: members, their URLs, lifecycle and network access.

Status, leader and health go through the members' own client URLs (see ``admin``), so
they are shared here; a backend only knows how to run, signal and enter a member.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import auth, tls
from harness.cluster import admin
from harness.cluster.binaries import EtcdBinary
from harness.cluster.ledger import PREFIX, StateFile, allocate, track, untrack
from harness.cluster.member import Member
from harness.cluster.peerproxy import PeerProxy
from harness.errors import HarnessError

_LOG_ALARMS = ('"level":"fatal"', '"level":"panic"', '"level":"error"', "panic:", "address already in use")


class ClusterError(HarnessError):
    """A cluster that cannot be started or driven; one line, shown by the CLI as is."""


class PortInUseError(ClusterError):
    """A port a member needs is taken."""


class DockerUnavailableError(ClusterError):
    """No Docker daemon answers."""


class NotRootError(ClusterError):
    """Network namespaces need root."""


#: Seconds a gracefully stopped member gets to exit before it is killed.
STOP_GRACE_S = 10.0


@dataclass
class ClusterConfig:
    size: int = 3
    heartbeat_ms: int = 50
    election_ms: int = 500
    snapshot_count: int | None = None
    extra_flags: list[str] = field(default_factory=list)
    #: Client and peer traffic over TLS with a CA made for the run (client certificates too).
    tls: bool = False
    #: Route peer traffic through the harness's proxy, which the delay fault needs.
    peer_proxy: bool = False
    subnet: str | None = None
    start_timeout: float = 30.0


def new_run_id() -> str:
    return time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)


class Cluster(ABC):
    """A real etcd cluster; use as a context manager so it is always torn down."""

    backend: str = ""

    def __init__(
        self,
        binaries: Sequence[EtcdBinary],
        out_dir: str | os.PathLike[str],
        config: ClusterConfig,
        name: str | None = None,
    ):
        if config.size < 1:
            raise ClusterError("a cluster needs at least one member")
        if len(binaries) not in (1, config.size):
            raise ClusterError(f"give one binary or one per member ({config.size}), not {len(binaries)}")
        self.config = config
        self.binaries = list(binaries) * (config.size if len(binaries) == 1 else 1)
        self.run_id = new_run_id()
        self.state: StateFile | None = None
        self.slot = -1
        self.name = name or ""
        self.out_dir = Path(out_dir)
        self.members: list[Member] = []
        self.proxy: PeerProxy | None = None
        self.started, self.start_seconds = False, 0.0
        self.credentials: tls.Credentials | None = None

    @property
    def token(self) -> str:
        return f"{PREFIX}-{self.name}-{self.run_id}"

    # lifecycle ----------------------------------------------------------------------

    def _claim(self) -> None:
        self.state = allocate(self.backend, self.run_id)
        self.slot = self.state.data["slot"]
        self.name = self.name or f"{PREFIX}{self.slot}"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        track(self)

    def start(self) -> Cluster:
        """Start every member; a second call is a no-op, not a second claim that leaks."""
        if self.started:
            return self
        t0 = time.monotonic()
        self._claim()
        try:
            self._provision()
            if self.config.tls:
                self._make_pki()
            if self.config.peer_proxy:
                self._start_proxy()
            self._start_all()
            self.wait_healthy(self.config.start_timeout)
            self._learn_ids()
        except BaseException:
            self.stop()
            raise
        self.started = True
        self.start_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        """Kill every member and remove everything the cluster created; safe to call twice."""
        for m in self.members:
            with contextlib.suppress(Exception):
                self._kill_member(m, final=True)
        if self.proxy is not None:
            self.proxy.close()
            self.proxy = None
        for registry in (auth, tls):
            registry.forget(self.endpoints() if self.members else [])
        with contextlib.suppress(Exception):
            self._teardown()
        if self.state is not None:
            self.state.remove()
            self.state = None
        untrack(self)

    def __enter__(self) -> Cluster:
        if not self.started:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _make_pki(self) -> None:
        from harness.cluster.certs import make_run_pki

        for m in self.members:
            m.tls = True
        named = [(m.name, [m.ip, *([m.peer_host] if m.peer_host else [])]) for m in self.members]
        self.credentials = make_run_pki(self.out_dir / "tls", named)
        tls.trust(self.endpoints(), self.credentials)

    @staticmethod
    def fresh_dir(data_dir: Path, log_path: Path) -> None:
        """A new cluster starts from empty data; etcd would silently reuse an old member's."""
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path.unlink(missing_ok=True)

    def _start_proxy(self) -> None:
        self.proxy = PeerProxy(name=self.name)
        for m in self.members:
            try:
                self.proxy.add_route(m.name, m.peer_host, m.peer_adv_port, m.ip, m.peer_port)
            except OSError as exc:
                raise PortInUseError(
                    f"peer proxy for {m.name} cannot listen on {m.peer_url}: {exc.strerror or exc}"
                ) from None

    def _start_all(self) -> None:
        initial = self.initial_cluster()
        for m in self.members:
            self._launch(m, initial, "new")

    def initial_cluster(self, members: Sequence[Member] | None = None) -> str:
        return ",".join(f"{m.name}={m.peer_url}" for m in (members or self.members))

    def etcd_args(
        self,
        m: Member,
        initial_cluster: str,
        state: str,
        *,
        data_dir: str | None = None,
        tls_dir: str | None = None,
    ) -> list[str]:
        c = self.config
        args = [
            "--name", m.name,
            "--data-dir", data_dir or str(m.data_dir),
            "--listen-client-urls", m.client_url,
            "--advertise-client-urls", m.client_url,
            "--listen-peer-urls", m.listen_peer_url,
            "--initial-advertise-peer-urls", m.peer_url,
            "--initial-cluster", initial_cluster,
            "--initial-cluster-state", state,
            "--initial-cluster-token", self.token,
            "--heartbeat-interval", str(c.heartbeat_ms),
            "--election-timeout", str(c.election_ms),
            "--logger", "zap",
            "--log-outputs", "stderr",
        ]  # fmt: skip
        if c.snapshot_count is not None:
            args += ["--snapshot-count", str(c.snapshot_count)]
        if c.tls:
            from harness.cluster.certs import tls_flags

            args += tls_flags(tls_dir or str((self.out_dir / "tls").resolve()), m.name)
        return args + list(c.extra_flags)

    # backend hooks ------------------------------------------------------------------

    @abstractmethod
    def _provision(self) -> None:
        """Create networks, data dirs and the member list (addresses, ports)."""

    @abstractmethod
    def _launch(self, m: Member, initial_cluster: str, state: str) -> None: ...

    @abstractmethod
    def _kill_member(self, m: Member, *, final: bool = False) -> None: ...

    @abstractmethod
    def _signal_pause(self, m: Member, pause: bool) -> None: ...

    @abstractmethod
    def _teardown(self) -> None: ...

    @abstractmethod
    def pid(self, member: Member | str | int) -> int | None:
        """The member's etcd pid as the host sees it (changes at every restart)."""

    @abstractmethod
    def logs(self, member: Member | str | int) -> str: ...

    def log_tail(self, member: Member | str | int, offset: int) -> tuple[str, int]:
        """What the member logged past ``offset`` (0, or a position an earlier call
        returned), and the position to ask from next time."""
        text = self.logs(member)
        return text[offset:], len(text)

    def netns_available(self) -> tuple[bool, str]:
        """Whether members have network namespaces of their own that faults may edit."""
        return False, f"{self.backend} cluster members share the host network"

    def net_exec(self, member: Member | str | int, argv: list[str], timeout: float = 10.0) -> str:
        raise ClusterError(self.netns_available()[1])

    # members ------------------------------------------------------------------------

    def member(self, ref: Member | str | int) -> Member:
        if isinstance(ref, Member):
            return ref
        for m in self.members:
            if ref in (m.name, m.index, m.member_id) or (isinstance(ref, str) and ref == m.client_url):
                return m
        raise ClusterError(f"no member {ref!r} in cluster {self.name}")

    def endpoints(self, members: Sequence[Member] | None = None) -> list[str]:
        return [m.client_url for m in (members or self.members)]

    def versions(self) -> list[str]:
        return sorted({m.version for m in self.members})

    def data_dir(self, member: Member | str | int) -> Path:
        return self.member(member).data_dir

    def running(self) -> list[Member]:
        return [m for m in self.members if m.state == "running"]

    def kill(self, member: Member | str | int) -> None:
        """SIGKILL the member; its data stays for ``restart``."""
        m = self.member(member)
        self._kill_member(m)
        m.state = "killed"

    def restart(self, member: Member | str | int, *, wait: float | None = None) -> None:
        m = self.member(member)
        if m.state in ("running", "paused"):
            self._kill_member(m)
        self._launch(m, self.initial_cluster(), "existing")
        m.restarts += 1
        m.restarted_at = time.monotonic()
        if wait:
            self.wait_healthy(wait, [m])

    def upgrade(self, member: Member | str | int, binary: EtcdBinary, *, wait: float = 60.0) -> None:
        """Stop the member as an operator would (SIGTERM), start ``binary`` on its data,
        and wait until it serves again: one step of a rolling upgrade or downgrade."""
        m = self.member(member)
        if m.state == "paused":
            self.resume(m)
        if m.state == "running":
            self._stop_member(m)
        m.binary = binary
        self._swap_binary(m)
        self.restart(m, wait=wait)

    def _stop_member(self, m: Member) -> None:
        """Stop gracefully; backends that cannot fall back to a kill."""
        self._kill_member(m)

    def _swap_binary(self, m: Member) -> None:  # noqa: B027 - optional hook
        """Make the next launch of ``m`` run ``m.binary``."""

    def pause(self, member: Member | str | int) -> None:
        m = self.member(member)
        if m.state == "running":
            self._signal_pause(m, True)
            m.state = "paused"

    def resume(self, member: Member | str | int) -> None:
        m = self.member(member)
        if m.state == "paused":
            self._signal_pause(m, False)
            m.state = "running"

    def _learn_ids(self) -> None:
        for m in self.running():
            with contextlib.suppress(admin.AdminError):
                m.member_id = admin.status(m.client_url, timeout=2).member_id

    # status -------------------------------------------------------------------------

    def status(self, member: Member | str | int, timeout: float = 2.0) -> admin.Status:
        m = self.member(member)
        st = admin.status(m.client_url, timeout=timeout)
        m.member_id = st.member_id
        return st

    def statuses(self, timeout: float = 1.0) -> dict[str, admin.Status | None]:
        out: dict[str, admin.Status | None] = {}
        for m in self.members:
            if m.state != "running":
                out[m.name] = None
                continue
            try:
                out[m.name] = self.status(m, timeout)
            except admin.AdminError:
                out[m.name] = None
        return out

    def leader(self, timeout: float = 1.0) -> Member | None:
        """The member most running members name as leader, among those in the highest term."""
        sts = {k: v for k, v in self.statuses(timeout).items() if v is not None and v.leader}
        if not sts:
            return None
        term = max(s.raft_term for s in sts.values())
        votes = Counter(s.leader for s in sts.values() if s.raft_term == term)
        lid, _ = votes.most_common(1)[0]
        for m in self.members:
            if m.member_id == lid and m.state == "running":
                return m
        return None

    def wait_leader(
        self, timeout: float = 10.0, *, exclude: Sequence[Member] = (), among: Sequence[Member] | None = None
    ) -> Member:
        """Poll until a leader outside ``exclude`` is seen by every member in ``among``."""
        deadline = time.monotonic() + timeout
        pool = list(among) if among is not None else None
        last = "no status"
        while time.monotonic() < deadline:
            if pool is None:
                ld = self.leader()
                if ld is not None and ld not in exclude:
                    return ld
                last = f"leader {ld.name if ld else None}"
            else:
                ids = set()
                for m in pool:
                    try:
                        ids.add(self.status(m, 1.0).leader)
                    except admin.AdminError as exc:
                        ids.add(-1)
                        last = str(exc)
                if len(ids) == 1:
                    (lid,) = ids
                    for m in self.members:
                        if lid > 0 and m.member_id == lid and m not in exclude:
                            return m
                last = f"leader ids {sorted(ids)}"
            time.sleep(0.1)
        raise ClusterError(f"cluster {self.name}: no leader within {timeout:.0f}s ({last})")

    def healthy(self, members: Sequence[Member] | None = None, timeout: float = 2.0) -> bool:
        return all(admin.health(m.client_url, timeout) for m in (members or self.running()))

    def wait_healthy(self, timeout: float = 30.0, members: Sequence[Member] | None = None) -> None:
        deadline = time.monotonic() + timeout
        pending = list(members or self.running())
        while pending and time.monotonic() < deadline:
            self._check_alive(pending)
            pending = [m for m in pending if not admin.health(m.client_url, 1.0)]
            if pending:
                time.sleep(0.05)
        if pending:
            names, hint = ", ".join(m.name for m in pending), self._log_hint(pending[0])
            raise ClusterError(f"cluster {self.name}: {names} not healthy within {timeout:.0f}s{hint}")

    def _check_alive(self, members: Sequence[Member]) -> None:  # noqa: B027 - optional hook
        """Fail fast when a member exited instead of waiting out the whole timeout."""

    def _log_hint(self, m: Member) -> str:
        with contextlib.suppress(Exception):
            lines = self.logs(m).splitlines()
            for line in reversed(lines):
                if any(mark in line for mark in _LOG_ALARMS):
                    return f"; {m.name} log: {line[:300]}"
            return f"; {m.name}'s last log line: {lines[-1][:300]}; see {m.log_path}"
        return f"; see {m.log_path}"

    # maintenance --------------------------------------------------------------------

    def any_client(self, exclude: Sequence[Member] = ()) -> Member:
        for m in self.running():
            if m not in exclude and admin.health(m.client_url, 1.0):
                return m
        raise ClusterError(f"cluster {self.name}: no healthy member to ask")

    def replace_member(
        self,
        member: Member | str | int,
        *,
        timeout: float = 30.0,
        after_launch: Callable[[Member], None] | None = None,
    ) -> None:
        """Remove the member, wipe its data, add it back as a new member that syncs from
        peers; ``after_launch`` runs once it is started again, before it is healthy."""
        m = self.member(member)
        via = self.any_client(exclude=[m])
        listed = {i.name: i for i in admin.member_list(via.client_url)}
        old = listed.get(m.name)
        old_id = old.id if old else m.member_id
        if m.state in ("running", "paused"):
            self._kill_member(m)
        m.state = "removed"
        if old_id:
            self._retry(lambda: admin.member_remove(via.client_url, old_id), timeout)
        shutil.rmtree(m.data_dir, ignore_errors=True)
        m.data_dir.mkdir(parents=True, exist_ok=True)
        via = self.any_client(exclude=[m])
        _, members = self._retry(lambda: admin.member_add(via.client_url, [m.peer_url]), timeout)
        by_url = {mm.peer_url: mm for mm in self.members}
        parts = []
        for info in members:
            url = info.peer_urls[0] if info.peer_urls else ""
            owner = by_url.get(url)
            parts.append(f"{owner.name if owner else info.name}={url}")
        self._launch(m, ",".join(parts), "existing")
        m.restarts += 1
        if after_launch is not None:
            after_launch(m)
        self.wait_healthy(timeout, [m])
        m.member_id = self.status(m).member_id

    def _retry(self, fn: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        for _ in range(1000):
            try:
                return fn()
            except admin.AdminError as exc:
                if time.monotonic() > deadline:
                    raise ClusterError(f"cluster {self.name}: {exc}") from None
                time.sleep(0.2)
        raise ClusterError(f"cluster {self.name}: gave up retrying")

    def describe(self) -> dict[str, Any]:
        """What the history header records about the cluster."""
        return {
            "backend": self.backend,
            "name": self.name,
            "size": len(self.members),
            "members": [
                {"name": m.name, "client_url": m.client_url, "peer_url": m.peer_url, "version": m.version}
                for m in self.members
            ],
            "heartbeat_ms": self.config.heartbeat_ms,
            "election_ms": self.config.election_ms,
            "snapshot_count": self.config.snapshot_count,
            "etcd_flags": list(self.config.extra_flags),
            "peer_proxy": self.config.peer_proxy,
            "tls": self.config.tls,
            "netns": self.netns_available()[0],
        }
