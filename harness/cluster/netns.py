"""One network namespace per member, joined by a bridge that lives in a namespace of its own.

Layout for slot k (names carry the ``ehx`` prefix so cleanup can find them):

    root ns: ehx<k>h  (first host of the subnet) --veth--+
    ehx<k>b: bridge br0  <-------------------------------+---- ehx<k>m<i>: eth0 (host i+2)

The bridge namespace has no other link and no namespace has a default route, so members
reach nothing but each other and the harness; the harness reaches them through its one
veth, whose route covers only the cluster's subnet. IPv6 address generation is off on our
links so not even link-local chatter (router solicitations, MLD) leaves the namespaces. Before using a subnet it is checked
against the root namespace's routes so no existing network is shadowed.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import json
import os
import subprocess
from dataclasses import dataclass, field

from harness.cluster.ledger import PREFIX, StateFile

CLONE_NEWNET = 0x40000000


class NetnsError(Exception):
    pass


def default_subnet(slot: int) -> str:
    base = ipaddress.ip_network("198.18.0.0/15")
    return str(list(base.subnets(new_prefix=24))[slot % 512])


def ip(*args: str, timeout: float = 10.0) -> str:
    try:
        res = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise NetnsError("the 'ip' command (iproute2) is not installed") from None
    except subprocess.TimeoutExpired:
        raise NetnsError(f"ip {' '.join(args)} timed out") from None
    if res.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {(res.stderr.strip().splitlines() or ['failed'])[0]}")
    return res.stdout


def can_use_netns() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "network namespaces need root (run as root or pass --no-netns)"
    if not any(
        os.access(os.path.join(p, "ip"), os.X_OK)
        for p in os.environ.get("PATH", "").split(":") + ["/usr/sbin", "/sbin"]
    ):
        return False, "the 'ip' command (iproute2) is not installed"
    return True, ""


def check_subnet_free(subnet: str) -> None:
    net = ipaddress.ip_network(subnet)
    try:
        routes = json.loads(ip("-j", "route", "show") or "[]")
    except (NetnsError, ValueError):
        routes = []
    for r in routes:
        dst = r.get("dst", "")
        if dst in ("", "default"):
            continue
        with contextlib.suppress(ValueError):
            other = ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False)
            if net.overlaps(other):
                raise NetnsError(f"subnet {subnet} overlaps an existing route to {dst}; pick another subnet")


@dataclass
class Plumbing:
    slot: int
    subnet: str
    state: StateFile
    members: list[str] = field(default_factory=list)

    @property
    def bridge_ns(self) -> str:
        return f"{PREFIX}{self.slot}b"

    @property
    def host_link(self) -> str:
        return f"{PREFIX}{self.slot}h"

    def member_ns(self, i: int) -> str:
        return f"{PREFIX}{self.slot}m{i}"

    def hosts(self) -> list[str]:
        return [str(h) for h in ipaddress.ip_network(self.subnet).hosts()]

    @property
    def host_ip(self) -> str:
        return self.hosts()[0]

    def member_ip(self, i: int) -> str:
        return self.hosts()[i + 1]

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    def create(self, count: int) -> None:
        check_subnet_free(self.subnet)
        if len(self.hosts()) < count + 1:
            raise NetnsError(f"subnet {self.subnet} is too small for {count} members")
        self._add_ns(self.bridge_ns)
        ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        ip("-n", self.bridge_ns, "link", "set", "br0", "up")
        self.state.add("links", self.host_link)
        ip("link", "add", self.host_link, "type", "veth", "peer", "name", "vhost", "netns", self.bridge_ns)
        ip("-n", self.bridge_ns, "link", "set", "vhost", "master", "br0", "up")
        ip("link", "set", self.host_link, "addrgenmode", "none")
        ip("addr", "add", f"{self.host_ip}/{self.prefixlen}", "dev", self.host_link)
        ip("link", "set", self.host_link, "up")
        for i in range(count):
            self.add_member(i)

    def _add_ns(self, name: str) -> None:
        self.state.add("netns", name)
        ip("netns", "add", name)
        ip("-n", name, "link", "set", "lo", "up")

    def add_member(self, i: int) -> None:
        ns = self.member_ns(i)
        self._add_ns(ns)
        ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", f"vm{i}", "netns", self.bridge_ns)
        ip("-n", self.bridge_ns, "link", "set", f"vm{i}", "master", "br0", "up")
        ip("-n", ns, "link", "set", "eth0", "addrgenmode", "none")
        ip("-n", ns, "addr", "add", f"{self.member_ip(i)}/{self.prefixlen}", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        self.members.append(ns)

    def destroy(self) -> None:
        for ns in [*self.members, self.bridge_ns]:
            with contextlib.suppress(NetnsError):
                ip("netns", "del", ns)
            self.state.discard("netns", ns)
        with contextlib.suppress(NetnsError):
            ip("link", "del", self.host_link)
        self.state.discard("links", self.host_link)

    def exec(self, i: int, argv: list[str], timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.member_ns(i), *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


_libc = ctypes.CDLL(None, use_errno=True)


def enter(ns_name: str) -> None:
    """Join a named namespace; called in a child between fork and exec."""
    fd = os.open(f"/run/netns/{ns_name}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            os._exit(121)
    finally:
        os.close(fd)
