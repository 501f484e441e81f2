"""Which build each member runs, and which version changes etcd accepts.

A cluster may mix builds (``--etcd-version 3.4.23,3.5.1,3.5.1``), and an ``upgrade``
fault swaps a member's binary during the run. etcd's own rules decide what works: the
cluster version is the lowest minor version its members run, it never goes back, and
a member starts only in a cluster whose version is its own minor or the one before
(3.5 joins a 3.4 cluster, 3.4 refuses to join a 3.5 one without the downgrade API).
A plan that breaks these rules is refused before anything starts, rather than failing
in the middle with a member that will not start.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.cluster.binaries import BinaryError, EtcdBinary, resolve
from harness.errors import UsageError

_MINOR_RE = re.compile(r"^v?(\d+)\.(\d+)")


def split_list(text: str | None) -> list[str]:
    """``a,b,c`` -> [a, b, c]; None or blank -> []."""
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def minor(version: str) -> tuple[int, int]:
    """(major, minor) of a version string; the cluster version speaks only of these."""
    m = _MINOR_RE.match(version)
    if m is None:
        raise UsageError(f"cannot read a major.minor version from {version!r}")
    return int(m.group(1)), int(m.group(2))


def resolve_members(
    versions: str | None, paths: str | None, size: int, *, fetch: bool = True
) -> list[EtcdBinary]:
    """One binary per member, from ``--etcd`` paths or ``--etcd-version`` versions, each a
    single value (every member) or a comma-separated list with one per member."""
    names = split_list(paths) or split_list(versions)
    by_path = bool(split_list(paths))
    if len(names) > 1 and len(names) != size:
        flag = "--etcd" if by_path else "--etcd-version"
        raise UsageError(f"{flag} lists {len(names)} builds for {size} members: give one, or one per member")
    if not names:
        return [resolve(fetch=fetch)] * size
    resolved: dict[str, EtcdBinary] = {}
    for n in names:
        if n not in resolved:
            resolved[n] = resolve(path=n) if by_path else resolve(n, fetch=fetch)
    out = [resolved[n] for n in names]
    return out * size if len(out) == 1 else out


def member_count(versions: str | None, paths: str | None) -> int | None:
    """The cluster size a per-member list implies (None: a single build or none)."""
    n = len(split_list(paths) or split_list(versions))
    return n if n > 1 else None


@dataclass(frozen=True)
class UpgradeStep:
    """An ``upgrade`` fault of a plan: ``target`` a member name or "next"."""

    target: str
    to: str


def check_version_changes(start: Sequence[str], steps: Iterable[UpgradeStep]) -> None:
    """Refuse, up front, a starting mix or an upgrade that etcd would refuse mid-run.

    "next" upgrades the first member (by index) not already running the target, as a
    rolling upgrade goes; a step with nothing left to upgrade is skipped at run time.
    """
    running = list(start)
    cluster = _cluster_version(running)
    for step in steps:
        i = _step_member(running, step)
        if i is None:
            continue
        want = minor(step.to)
        if want < cluster:
            raise UsageError(
                f"upgrade of m{i} to {step.to}: the cluster version is {_fmt(cluster)} by then, "
                f"and etcd does not take a member back to {_fmt(want)} without its downgrade API"
            )
        running[i] = step.to
        cluster = max(cluster, _cluster_version(running))


def _cluster_version(running: Sequence[str]) -> tuple[int, int]:
    minors = sorted({minor(v) for v in running})
    low, high = minors[0], minors[-1]
    if high[0] != low[0] or high[1] - low[1] > 1:
        raise UsageError(
            f"members run {', '.join(sorted(set(running)))}: etcd mixes only two adjacent minor versions"
        )
    return low


def _step_member(running: Sequence[str], step: UpgradeStep) -> int | None:
    if step.target == "next":
        return next((i for i, v in enumerate(running) if v != step.to), None)
    m = re.fullmatch(r"m(\d+)", step.target)
    if m is None or int(m.group(1)) >= len(running):
        raise UsageError(
            f"upgrade target {step.target!r}: want 'next' or a member name m0..m{len(running) - 1}"
        )
    return int(m.group(1))


def _fmt(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]}"


__all__ = [
    "BinaryError",
    "UpgradeStep",
    "check_version_changes",
    "member_count",
    "minor",
    "resolve_members",
    "split_list",
]
