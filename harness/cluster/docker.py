"""Members as Docker containers on an internal network, reached by IP from the host.

Internal networks have no route out and publish no ports, which is what keeps etcd off
every network but the cluster's own; the host still reaches the containers' IPs through
the network's bridge. Images are built locally ``FROM scratch`` around the chosen binary
(never pulled: no registry is reachable). Everything is labelled with the run so
``etcd-harness cleanup`` can remove it after a harness died without stopping it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.cluster import ports
from harness.cluster.base import (
    STOP_GRACE_S,
    Cluster,
    ClusterConfig,
    ClusterError,
    DockerUnavailableError,
    Member,
)
from harness.cluster.binaries import EtcdBinary
from harness.cluster.ledger import LABEL, LABEL_OWNER, LABEL_RUN, owner_label

IMAGE_REPO = "etcd-harness/etcd"
DOCKER_DIR = Path(__file__).resolve().parents[2] / "docker"
_FALLBACK_DOCKERFILE = 'FROM scratch\nCOPY rootfs/ /\nENTRYPOINT ["/usr/local/bin/etcd"]\n'


def default_subnet(slot: int) -> str:
    return f"198.19.{slot % 256}.0/24"


def connect(timeout: float = 30.0) -> Any:
    try:
        docker = importlib.import_module("docker")
    except ImportError:
        raise DockerUnavailableError(
            "the Docker SDK for Python is not installed (pip install docker)"
        ) from None
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except Exception as exc:  # noqa: BLE001 - every failure here means the same to the user
        raise DockerUnavailableError(
            f"Docker is not running or not reachable ({type(exc).__name__}); start it with 'python -m harness.cluster.dockerd'"
        ) from None
    return client


def _shared_libs(binary: str) -> list[str]:
    """Libraries a dynamically linked binary loads (Debian's etcd 3.4 needs libc)."""
    try:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    libs = []
    for line in out.splitlines():
        parts = line.split()
        for p in parts:
            if p.startswith("/") and os.path.exists(p):
                libs.append(p)
    return libs


def build_image(client: Any, binary: EtcdBinary) -> str:
    """Tag by version and content hash, so an image is built once per distinct binary."""
    h = hashlib.sha256()
    with open(binary.path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    tag = f"{IMAGE_REPO}:{binary.version}-{h.hexdigest()[:12]}"
    with contextlib.suppress(Exception):
        client.images.get(tag)
        return tag
    ctx = Path(tempfile.mkdtemp(prefix="ehx-image-"))
    try:
        dockerfile = DOCKER_DIR / "Dockerfile"
        (ctx / "Dockerfile").write_text(
            dockerfile.read_text() if dockerfile.exists() else _FALLBACK_DOCKERFILE
        )
        bindir = ctx / "rootfs" / "usr" / "local" / "bin"
        bindir.mkdir(parents=True)
        shutil.copy2(binary.path, bindir / "etcd")
        os.chmod(bindir / "etcd", 0o755)
        for lib in _shared_libs(binary.path):
            dest = ctx / "rootfs" / lib.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.realpath(lib), dest)
        (ctx / "rootfs" / "data").mkdir()
        client.images.build(path=str(ctx), tag=tag, rm=True, pull=False, labels={LABEL: "1"})
    except Exception as exc:  # noqa: BLE001
        raise ClusterError(
            f"docker build of {tag} failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    return tag


class DockerCluster(Cluster):
    backend = "docker"

    def __init__(
        self,
        binaries: Sequence[EtcdBinary],
        out_dir: str | os.PathLike[str],
        config: ClusterConfig,
        name: str | None = None,
        image: str | None = None,
        etcd_path: str = "/usr/local/bin/etcd",
    ):
        super().__init__(binaries, out_dir, config, name)
        self.image = image
        self.etcd_path = etcd_path
        self.client: Any = None
        self.network: Any = None
        self.network_name = ""
        self.containers: dict[str, str] = {}
        self.images: list[str] = []
        self._proxy_ports: list[int] = []

    def _provision(self) -> None:
        assert self.state is not None
        self.client = connect()
        if self.image:
            try:
                self.client.images.get(self.image)
            except Exception:  # noqa: BLE001
                raise ClusterError(
                    f"docker image {self.image} is not present locally (this harness never pulls)"
                ) from None
            self.images = [self.image] * self.config.size
            version = self._image_version(self.image)
            self.binaries = [EtcdBinary(f"docker-image:{self.image}", version)] * self.config.size
        else:
            built = {b.path: build_image(self.client, b) for b in self.binaries}
            self.images = [built[b.path] for b in self.binaries]
        types = importlib.import_module("docker.types")

        subnet = self.config.subnet or default_subnet(self.slot)
        hosts = _hosts(subnet)
        self.network_name = f"{self.name}-{self.run_id}"
        labels = {LABEL: "1", LABEL_RUN: self.run_id, LABEL_OWNER: owner_label()}
        self.state.add("networks", self.network_name)
        try:
            ipam = types.IPAMConfig(pool_configs=[types.IPAMPool(subnet=subnet, gateway=hosts[0])])
            self.network = self.client.networks.create(
                self.network_name,
                driver="bridge",
                internal=True,
                ipam=ipam,
                labels=labels,
                check_duplicate=True,
            )
        except Exception as exc:  # noqa: BLE001
            raise ClusterError(f"cannot create docker network {subnet}: {_first_line(exc)}") from None
        self.members = []
        proxy_ports = ports.free_ports(self.config.size, "0.0.0.0") if self.config.peer_proxy else []
        self._proxy_ports = proxy_ports
        for i in range(self.config.size):
            d = (self.out_dir / "data" / f"m{i}").resolve()
            self.fresh_dir(d, self.out_dir / f"m{i}.log")
            m = Member(
                name=f"m{i}",
                index=i,
                binary=self.binaries[i],
                ip=hosts[i + 1],
                client_port=2379,
                peer_port=2380,
                data_dir=d,
                log_path=self.out_dir / f"m{i}.log",
            )
            if self.config.peer_proxy:
                m.peer_host, m.peer_adv_port = hosts[0], proxy_ports[i]
            self.members.append(m)

    def _image_version(self, image: str) -> str:
        """What the image's own etcd reports, since a user-named image is not the host's binary."""
        try:
            out = self.client.containers.run(
                image, ["--version"], entrypoint=[self.etcd_path], remove=True, network_mode="none"
            )
        except Exception as exc:  # noqa: BLE001
            raise ClusterError(
                f"cannot run {self.etcd_path} --version in {image}: {_first_line(exc)}"
            ) from None
        m = re.search(r"etcd Version:\s*(\S+)", out.decode(errors="replace"))
        if not m:
            raise ClusterError(f"{image}: {self.etcd_path} --version printed no 'etcd Version:' line")
        return m.group(1)

    def _container_name(self, m: Member) -> str:
        return f"{self.name}-{self.run_id}-{m.name}"

    def _launch(self, m: Member, initial_cluster: str, state: str) -> None:
        api = self.client.api
        cid = self.containers.get(m.name)
        if cid and m.state == "removed":
            self._save_logs(m)
            with contextlib.suppress(Exception):
                api.remove_container(cid, force=True)
            cid = None
        if cid is None:
            cname = self._container_name(m)
            assert self.state is not None
            self.state.add("containers", cname)
            args = self.etcd_args(m, initial_cluster, state, data_dir="/data", tls_dir="/tls")
            binds = {str(m.data_dir): {"bind": "/data", "mode": "rw"}}
            if self.config.tls:
                binds[str((self.out_dir / "tls").resolve())] = {"bind": "/tls", "mode": "ro"}
            host_config = api.create_host_config(
                binds=binds,
                dns=["127.0.0.1"],
                network_mode=self.network_name,
            )
            net_cfg = api.create_networking_config(
                {self.network_name: api.create_endpoint_config(ipv4_address=m.ip)}
            )
            try:
                c = api.create_container(
                    self.images[m.index],
                    command=args,
                    entrypoint=[self.etcd_path],
                    name=cname,
                    labels={
                        LABEL: "1",
                        LABEL_RUN: self.run_id,
                        LABEL_OWNER: owner_label(),
                        "etcd-harness.member": m.name,
                    },
                    host_config=host_config,
                    networking_config=net_cfg,
                )
            except Exception as exc:  # noqa: BLE001
                raise ClusterError(f"cannot create container for {m.name}: {_first_line(exc)}") from None
            cid = c["Id"]
            self.containers[m.name] = cid
        try:
            api.start(cid)
        except Exception as exc:  # noqa: BLE001
            raise ClusterError(f"cannot start container for {m.name}: {_first_line(exc)}") from None
        m.state = "running"

    def _check_alive(self, members: Sequence[Member]) -> None:
        for m in members:
            cid = self.containers.get(m.name)
            if not cid:
                continue
            st = self.client.api.inspect_container(cid)["State"]
            if not st.get("Running"):
                raise ClusterError(
                    f"cluster {self.name}: {m.name}'s container exited ({st.get('ExitCode')}){self._log_hint(m)}"
                )

    def _kill_member(self, m: Member, *, final: bool = False) -> None:
        cid = self.containers.get(m.name)
        if cid is None:
            return
        api = self.client.api
        if m.state == "paused":
            with contextlib.suppress(Exception):
                api.unpause(cid)
        with contextlib.suppress(Exception):
            api.kill(cid)
        with contextlib.suppress(Exception):
            api.wait(cid, timeout=10)
        m.state = "stopped" if final else "killed"

    def _stop_member(self, m: Member) -> None:
        cid = self.containers.get(m.name)
        if cid is not None:
            with contextlib.suppress(Exception):
                self.client.api.stop(cid, timeout=int(STOP_GRACE_S))
        self._kill_member(m)

    def _swap_binary(self, m: Member) -> None:
        """A container runs one image: the member's next one is created from the new build's."""
        self.images[m.index] = build_image(self.client, m.binary)
        cid = self.containers.pop(m.name, None)
        if cid is not None:
            with contextlib.suppress(Exception), open(m.log_path, "ab") as fh:
                fh.write(self.client.api.logs(cid))
            with contextlib.suppress(Exception):
                self.client.api.remove_container(cid, force=True)

    def _signal_pause(self, m: Member, pause: bool) -> None:
        cid = self.containers[m.name]
        (self.client.api.pause if pause else self.client.api.unpause)(cid)

    def _save_logs(self, m: Member) -> None:
        with contextlib.suppress(Exception), open(m.log_path, "ab") as fh:
            fh.write(self.client.api.logs(self.containers[m.name]))

    def _teardown(self) -> None:
        ports.release(self._proxy_ports)
        if self.client is None:
            return
        for m in self.members:
            if m.name in self.containers:
                self._save_logs(m)
                with contextlib.suppress(Exception):
                    self.client.api.remove_container(self.containers.pop(m.name), force=True)
            if self.state is not None:
                self.state.discard("containers", self._container_name(m))
        if self.network is not None:
            for _ in range(10):
                try:
                    self.network.remove()
                    break
                except Exception:  # noqa: BLE001 - endpoints of removed containers linger briefly
                    time.sleep(0.3)
            self.network = None
        if self.state is not None:
            self.state.discard("networks", self.network_name)
        with contextlib.suppress(Exception):
            self.client.close()

    def pid(self, member: Member | str | int) -> int | None:
        cid = self.containers.get(self.member(member).name)
        if cid is None:
            return None
        st = self.client.api.inspect_container(cid)["State"]
        return int(st["Pid"]) if st.get("Running") and st.get("Pid") else None

    def logs(self, member: Member | str | int) -> str:
        m = self.member(member)
        cid = self.containers.get(m.name)
        saved = m.log_path.read_text(errors="replace") if m.log_path.exists() else ""
        if cid is None:
            return saved
        try:
            return saved + self.client.api.logs(cid).decode(errors="replace")
        except Exception:  # noqa: BLE001
            return saved

    def netns_available(self) -> tuple[bool, str]:
        if os.geteuid() != 0:
            return False, "editing a container's network namespace needs root (nsenter)"
        if shutil.which("nsenter") is None or shutil.which("iptables") is None:
            return False, "nsenter and iptables must be installed on the host"
        return True, ""

    def net_exec(self, member: Member | str | int, argv: list[str], timeout: float = 10.0) -> str:
        m = self.member(member)
        pid = self.pid(m)
        if pid is None:
            raise ClusterError(f"{m.name}'s container is not running")
        try:
            res = subprocess.run(
                ["nsenter", "-t", str(pid), "-n", *argv],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ClusterError(f"{' '.join(argv)} in {m.name}'s namespace timed out") from None
        if res.returncode != 0:
            raise ClusterError(f"{' '.join(argv)} in {m.name}'s namespace: {res.stderr.strip()}")
        return res.stdout


def _hosts(subnet: str) -> list[str]:
    import ipaddress

    return [str(h) for h in ipaddress.ip_network(subnet).hosts()]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
