"""One member of a cluster as the harness sees it: addresses, build, data, and state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.cluster.binaries import EtcdBinary

MemberState = Literal["stopped", "running", "paused", "killed", "removed"]


@dataclass
class Member:
    name: str
    index: int
    binary: EtcdBinary
    ip: str
    client_port: int
    peer_port: int
    data_dir: Path
    log_path: Path
    #: Host and port other members dial: the member itself, or its proxy route.
    peer_host: str = ""
    peer_adv_port: int = 0
    state: MemberState = "stopped"
    member_id: int = 0
    restarts: int = 0
    #: time.monotonic() of the last restart (0: never restarted)
    restarted_at: float = 0.0
    #: Client and peer listeners speak TLS (the run's CA, see harness.cluster.certs).
    tls: bool = False

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def client_url(self) -> str:
        return f"{self.scheme}://{self.ip}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"{self.scheme}://{self.peer_host or self.ip}:{self.peer_adv_port or self.peer_port}"

    @property
    def listen_peer_url(self) -> str:
        return f"{self.scheme}://{self.ip}:{self.peer_port}"

    @property
    def version(self) -> str:
        return self.binary.version
