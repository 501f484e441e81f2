"""What a run created, written down before it exists, so a SIGKILLed harness can be undone.

Each cluster keeps a JSON state file under ``<cache>/state/``: its owner (pid plus start
time, so a recycled pid is not mistaken for a live harness), its slot (which picks its
subnet and namespace names), the member process groups, namespaces, links and Docker
objects. ``cleanup()`` removes everything whose owner is gone, then sweeps for anything
carrying the project's marks that no live run claims: namespaces and links named ``ehx*``,
Docker objects labelled ``etcd-harness=1``, etcd processes started with an
``--initial-cluster-token ehx-...``.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib
import json
import os
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.binaries import cache_dir

PREFIX = "ehx"
LABEL = "etcd-harness"
LABEL_RUN = "etcd-harness.run"
LABEL_OWNER = "etcd-harness.owner"
MAX_SLOTS = 256


def state_dir() -> Path:
    d = cache_dir() / "state"
    d.mkdir(parents=True, exist_ok=True)
    return d


def proc_start_time(pid: int) -> int | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(raw.rsplit(")", 1)[1].split()[19])


def owner_token() -> list[int]:
    pid = os.getpid()
    return [pid, proc_start_time(pid) or 0]


def owner_alive(owner: list[int] | None) -> bool:
    if not owner:
        return False
    pid, start = owner
    return proc_start_time(pid) == start


@contextmanager
def _state_lock() -> Iterator[None]:
    with open(state_dir() / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class StateFile:
    """The record of one cluster's resources; every change is written through at once."""

    def __init__(self, run_id: str, backend: str, slot: int, data: dict[str, Any] | None = None):
        self.path = state_dir() / f"{run_id}.json"
        self.data: dict[str, Any] = data or {
            "run_id": run_id,
            "backend": backend,
            "slot": slot,
            "owner": owner_token(),
            "created": time.time(),
            "pids": [],
            "netns": [],
            "links": [],
            "containers": [],
            "networks": [],
        }
        self._lock = threading.Lock()
        self._flush()

    def _flush(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        tmp.replace(self.path)

    def add(self, key: str, value: Any) -> None:
        with self._lock:
            if value not in self.data[key]:
                self.data[key].append(value)
            self._flush()

    def discard(self, key: str, value: Any) -> None:
        with self._lock:
            if value in self.data[key]:
                self.data[key].remove(value)
            self._flush()

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _read_states() -> list[dict[str, Any]]:
    out = []
    for p in state_dir().glob("*.json"):
        try:
            d = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        d["_path"] = str(p)
        out.append(d)
    return out


def allocate(backend: str, run_id: str) -> StateFile:
    """Claim a slot no live run holds, and the state file that records it, atomically."""
    with _state_lock():
        used = {d.get("slot") for d in _read_states() if owner_alive(d.get("owner"))}
        used |= _netns_slots() | {_slot_of(link) for link in _root_links()}
        for slot in range(MAX_SLOTS):
            if slot not in used:
                return StateFile(run_id, backend, slot)
    raise RuntimeError(f"all {MAX_SLOTS} cluster slots are taken; run 'etcd-harness cleanup'")


def _netns_slots() -> set[int]:
    slots = set()
    for name in list_netns():
        rest = name[len(PREFIX) :]
        digits = ""
        for ch in rest:
            if not ch.isdigit():
                break
            digits += ch
        if digits:
            slots.add(int(digits))
    return slots


def list_netns() -> list[str]:
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return []
    return sorted(n for n in names if n.startswith(PREFIX))


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
    with _state_lock():
        for d in _read_states():
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
    busy = set() if include_live else {_slot_of(ns) for ns in list_netns() if _netns_pids(ns)}
    keep = busy | (set() if include_live else live_slots)
    for ns in list_netns():
        if _slot_of(ns) not in keep and _run(["ip", "netns", "del", ns]):
            rep.netns.append(ns)
    for link in _root_links():
        if _slot_of(link) not in keep and _run(["ip", "link", "del", link]):
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


def _slot_of(name: str) -> int:
    digits = ""
    for ch in name[len(PREFIX) :]:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else -1


def _root_links() -> list[str]:
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return []
    return sorted(n for n in names if n.startswith(PREFIX))


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


def owner_label() -> str:
    return ":".join(str(x) for x in owner_token())


class _Stoppable(Protocol):
    def stop(self) -> None: ...


_live: weakref.WeakSet[Any] = weakref.WeakSet()
_hooks_installed = False
_hooks_lock = threading.Lock()


def track(cluster: _Stoppable) -> None:
    """Stop ``cluster`` at interpreter exit and on SIGTERM/SIGHUP, if nothing else does."""
    global _hooks_installed
    _live.add(cluster)
    with _hooks_lock:
        if _hooks_installed:
            return
        _hooks_installed = True
        atexit.register(stop_all)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGHUP):
                if signal.getsignal(sig) in (signal.SIG_DFL, None):
                    signal.signal(sig, _exit_on_signal)


def untrack(cluster: _Stoppable) -> None:
    _live.discard(cluster)


def _exit_on_signal(signum: int, frame: Any) -> None:
    # SystemExit unwinds `with cluster:` blocks in the main thread; atexit catches the rest.
    raise SystemExit(128 + signum)


def stop_all() -> None:
    for c in list(_live):
        with contextlib.suppress(Exception):
            c.stop()
