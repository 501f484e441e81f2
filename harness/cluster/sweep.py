"""Removing what dead runs left: everything their state files name, then anything carrying
the project's marks that no live run claims: namespaces and links named ``ehx*``,
Docker objects labelled ``etcd-harness=1``, etcd processes started with an
``--initial-cluster-token ehx-...``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cluster.ledger import (
    LABEL,
    LABEL_OWNER,
    LABEL_RUN,
    PREFIX,
    list_netns,
    owner_alive,
    proc_start_time,
    read_states,
    root_links,
    slot_of,
    state_lock,
)


def _run(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def kill_group(pid: int, start: int | None) -> bool:
    """SIGKILL a member's process group, unless the pid now belongs to someone else."""
    if start is not None and proc_start_time(pid) != start:
        return False
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


@dataclass
class CleanupReport:
    processes: list[int] = field(default_factory=list)
    netns: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    state_files: list[str] = field(default_factory=list)
    skipped_live: list[str] = field(default_factory=list)

    def total(self) -> int:
        return sum(len(x) for x in (self.processes, self.netns, self.links, self.containers, self.networks))


def cleanup(*, include_live: bool = False, docker: bool = True, sweep: bool = True) -> CleanupReport:
    """Remove leftovers of dead runs (or of every run with ``include_live``).

    State files name what to remove. The ``sweep`` then looks for marked objects no state
    file names (a harness using another cache dir, a state file lost): a namespace is only
    taken when no process runs in any namespace of its slot, since members die with their
    harness; an etcd process only when its harness is gone; a Docker object only when the
    owner recorded in its labels is gone.
    """
    rep = CleanupReport()
    live_runs: set[str] = set()
    live_slots: set[int] = set()
    with state_lock():
        for d in read_states():
            if owner_alive(d.get("owner")) and not include_live:
                live_runs.add(d.get("run_id", ""))
                live_slots.add(d.get("slot", -1))
                rep.skipped_live.append(d.get("run_id", ""))
                continue
            for pid, start in d.get("pids", []):
                if kill_group(pid, start):
                    rep.processes.append(pid)
            for ns in d.get("netns", []):
                if _run(["ip", "netns", "del", ns]):
                    rep.netns.append(ns)
            for link in d.get("links", []):
                if _run(["ip", "link", "del", link]):
                    rep.links.append(link)
            rep.state_files.append(d["_path"])
            with contextlib.suppress(FileNotFoundError):
                os.unlink(d["_path"])
        if sweep:
            _sweep(live_slots, include_live, rep)
    if docker:
        _cleanup_docker(live_runs, include_live, rep)
    return rep


def _sweep(live_slots: set[int], include_live: bool, rep: CleanupReport) -> None:
    for pid in _orphan_etcd_pids(include_live):
        if kill_group(pid, None) or _kill(pid):
            rep.processes.append(pid)
    busy = set() if include_live else {slot_of(ns) for ns in list_netns() if _netns_pids(ns)}
    keep = busy | (set() if include_live else live_slots)
    for ns in list_netns():
        if slot_of(ns) not in keep and _run(["ip", "netns", "del", ns]):
            rep.netns.append(ns)
    for link in root_links():
        if slot_of(link) not in keep and _run(["ip", "link", "del", link]):
            rep.links.append(link)


def _netns_pids(ns: str) -> list[str]:
    try:
        out = subprocess.run(
            ["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return out.stdout.split()


def _kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        return False
    return True


def _orphan_etcd_pids(include_live: bool) -> list[int]:
    """etcd processes carrying our cluster token whose harness (their parent) is gone."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        try:
            i = argv.index(b"--initial-cluster-token")
        except ValueError:
            continue
        token = argv[i + 1].decode(errors="replace") if i + 1 < len(argv) else ""
        if not token.startswith(f"{PREFIX}-"):
            continue
        if include_live or _parent_gone(int(entry)):
            out.append(int(entry))
    return out


def _parent_gone(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        ppid = int(raw.rsplit(")", 1)[1].split()[1])
        parent = Path(f"/proc/{ppid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return True
    return ppid <= 1 or b"python" not in parent


def _cleanup_docker(live_runs: set[str], include_live: bool, rep: CleanupReport) -> None:
    if not os.path.exists("/var/run/docker.sock") and not os.environ.get("DOCKER_HOST"):
        return
    try:
        docker: Any = importlib.import_module("docker")
        errors: Any = importlib.import_module("docker.errors")

        client = docker.from_env(timeout=20)
        client.ping()
    except Exception:  # noqa: BLE001 - no engine means nothing of ours can be left there
        return

    def is_live(labels: dict[str, str]) -> bool:
        if include_live:
            return False
        if labels.get(LABEL_RUN) in live_runs:
            return True
        owner = labels.get(LABEL_OWNER, "")
        with contextlib.suppress(ValueError):
            return owner_alive([int(x) for x in owner.split(":")])
        return False

    try:
        for c in client.containers.list(all=True, filters={"label": LABEL}):
            if is_live(c.labels):
                continue
            with contextlib.suppress(errors.APIError):
                c.remove(force=True)
                rep.containers.append(c.name)
        for n in client.networks.list(filters={"label": LABEL}):
            if is_live(n.attrs.get("Labels") or {}):
                continue
            # A just-removed container can hold its endpoint for a moment.
            for attempt in range(10):
                try:
                    n.remove()
                except errors.NotFound:
                    break
                except errors.APIError:
                    if attempt == 9:
                        break
                    time.sleep(0.3)
                    continue
                rep.networks.append(n.name)
                break
    finally:
        client.close()
