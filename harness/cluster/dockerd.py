"""Start the Docker engine when it is not running; for CI and for the docker tests.

Usage: ``python -m harness.cluster.dockerd [--timeout 60]``; exits 0 once the engine
answers, 2 when it cannot be started (no dockerd, not root, or it never came up).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import time

SOCKET = "/var/run/docker.sock"


def engine_up(timeout: float = 5.0) -> bool:
    try:
        docker = importlib.import_module("docker")

        client = docker.from_env(timeout=int(max(1, timeout)))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure means "not up"
        return False


def ensure_dockerd(timeout: float = 60.0, log_path: str = "/tmp/dockerd.log") -> tuple[bool, str]:
    """Start ``dockerd`` detached (it outlives this process) and wait until it answers."""
    if engine_up():
        return True, "already running"
    exe = shutil.which("dockerd")
    if exe is None:
        return False, "dockerd is not installed (apt-get install docker.io)"
    if os.geteuid() != 0:
        return False, "starting dockerd needs root"
    with open(log_path, "ab") as log:
        subprocess.Popen(
            [exe],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(SOCKET) and engine_up(2.0):
            return True, "started"
        time.sleep(0.5)
    return False, f"dockerd did not answer within {timeout:.0f}s (see {log_path})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.cluster.dockerd")
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args(argv)
    ok, why = ensure_dockerd(args.timeout)
    print(f"dockerd: {why}", file=sys.stderr if not ok else sys.stdout)
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
