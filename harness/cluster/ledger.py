"""What a run created, written down before it exists, so a SIGKILLed harness can be undone.

Each cluster keeps a JSON state file under ``<cache>/state/``: its owner (pid plus start
time, so a recycled pid is not mistaken for a live harness), its slot (which picks its
subnet and namespace names), the member process groups, namespaces, links and Docker
objects. Clusters alive in this process are also stopped at interpreter exit and on
SIGTERM/SIGHUP when nothing else handles those. :mod:`.sweep` undoes what dead owners left.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import signal
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from harness.cluster.binaries import cache_dir
from harness.errors import HarnessError

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
def state_lock() -> Iterator[None]:
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


def read_states() -> list[dict[str, Any]]:
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
    with state_lock():
        used = {d.get("slot") for d in read_states() if owner_alive(d.get("owner"))}
        used |= netns_slots() | {slot_of(link) for link in root_links()}
        for slot in range(MAX_SLOTS):
            if slot not in used:
                return StateFile(run_id, backend, slot)
    raise HarnessError(f"all {MAX_SLOTS} cluster slots are taken; run 'etcd-harness cleanup'")


def netns_slots() -> set[int]:
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


def slot_of(name: str) -> int:
    digits = ""
    for ch in name[len(PREFIX) :]:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else -1


def root_links() -> list[str]:
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return []
    return sorted(n for n in names if n.startswith(PREFIX))


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
