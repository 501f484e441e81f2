"""Free loopback ports for members that share the host's network namespace.

A bind probe only says a port was free a moment ago; the process backend therefore also
retries a member whose etcd exits with "address already in use". Ports handed out here are
remembered for the life of the process so two clusters started side by side never get the
same ones, and are taken from a range below Linux's ephemeral range so outgoing connections
of other programs do not grab them between probe and bind.
"""

from __future__ import annotations

import random
import socket
import threading

from harness.errors import HarnessError


class NoFreePorts(HarnessError):
    """Every port probed was taken: an environment problem, one line and exit 2."""


_lock = threading.Lock()
_handed_out: set[int] = set()
_LOW, _HIGH = 20000, 32000


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int, host: str = "127.0.0.1", *, rng: random.Random | None = None) -> list[int]:
    rng = rng or random.Random()
    out: list[int] = []
    with _lock:
        for _ in range(5000):
            if len(out) == count:
                break
            port = rng.randrange(_LOW, _HIGH)
            if port in _handed_out or port in out:
                continue
            if port_is_free(port, host):
                out.append(port)
        if len(out) < count:
            raise NoFreePorts(
                f"could not find {count} free ports on {host} in {_LOW}-{_HIGH - 1} (in use by other programs?)"
            )
        _handed_out.update(out)
    return out


def release(ports: list[int]) -> None:
    with _lock:
        _handed_out.difference_update(ports)
