"""The cluster version only moves forward, and never past a build a member still runs.

etcd's leader raises the cluster version to the lowest minor version its members run,
once it has read every member's, and nothing but the downgrade API lowers it. Two
checks follow, each on what ``/version`` reported (:mod:`harness.traffic.versions`):

- a member that reported cluster version X never reports a lower one while it lives
  (a restart may serve an older membership snapshot until it has replayed its log, so
  each life of a member is judged on its own);
- no member reports a cluster version above the minor of a build some member may be
  running then. While a member's upgrade is under way (its fault window) it counts as
  running the newer of its two builds.

Samples reading "not_decided" say nothing yet and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from models.anomaly import Anomaly
from models.history import FaultRecord, Header, StatusRecord

_MINOR = re.compile(r"^v?(\d+)\.(\d+)")


def _minor(version: str | None) -> tuple[int, int] | None:
    m = _MINOR.match(version or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def _fmt(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]}"


@dataclass(frozen=True)
class _Span:
    """``member`` may run a build of minor ``version`` from ``start`` to ``end``."""

    member: str
    version: tuple[int, int]
    start: int
    end: int


def check_cluster_versions(
    header: Header, statuses: Sequence[StatusRecord], faults: Sequence[FaultRecord]
) -> list[Anomaly]:
    samples = sorted((s for s in statuses if _minor(s.cluster_version) is not None), key=lambda s: s.time)
    if not samples:
        return []
    names = _names(header)
    out = _went_back(samples, names, _lives(faults))
    out += _ahead_of_a_member(samples, names, _builds(header, faults))
    return out


def _names(header: Header) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in header.cluster.get("members") or []:
        if isinstance(m, dict) and m.get("name"):
            out[str(m.get("client_url") or m["name"])] = str(m["name"])
    return out


def _lives(faults: Sequence[FaultRecord]) -> dict[str, list[int]]:
    """Per member name, the times a fault that may have restarted it began."""
    out: dict[str, list[int]] = {}
    for f in faults:
        if f.phase == "start":
            for t in f.targets:
                out.setdefault(t, []).append(f.time)
    return out


def _went_back(
    samples: Sequence[StatusRecord], names: dict[str, str], restarts: dict[str, list[int]]
) -> list[Anomaly]:
    out: list[Anomaly] = []
    highest: dict[str, tuple[tuple[int, int], StatusRecord]] = {}
    for s in samples:
        v = _minor(s.cluster_version)
        assert v is not None
        name = names.get(s.member, s.member)
        seen = highest.get(s.member)
        if seen is not None and any(seen[1].time < t <= s.time for t in restarts.get(name, [])):
            seen = None
        if seen is not None and v < seen[0]:
            out.append(
                Anomaly(
                    "cluster-version",
                    f"{name} reported cluster version {_fmt(seen[0])}, then {_fmt(v)} without a restart "
                    "in between: the cluster version went back",
                    members=[name],
                    details={"before": seen[1].cluster_version, "after": s.cluster_version, "at": s.time},
                )
            )
            return out
        if seen is None or v > seen[0]:
            highest[s.member] = (v, s)
    return out


def _builds(header: Header, faults: Sequence[FaultRecord]) -> list[_Span]:
    """What each member may run when: its first build until its first upgrade, then
    the newer of the two for the upgrade's window, then the new one."""
    never = 1 << 62
    current: dict[str, tuple[tuple[int, int], int]] = {}
    for m in header.cluster.get("members") or []:
        if isinstance(m, dict) and (v := _minor(str(m.get("version", "")))) is not None:
            current[str(m["name"])] = (v, 0)
    spans: list[_Span] = []
    starts = {f.id: f for f in faults if f.kind == "upgrade" and f.phase == "start"}
    for f in sorted((f for f in faults if f.kind == "upgrade" and f.phase == "end"), key=lambda f: f.time):
        start = starts.get(f.id)
        name, to = str(f.detail.get("member", "")), _minor(str(f.detail.get("to", "")))
        if start is None or name not in current or to is None:
            continue
        was, since = current[name]
        spans.append(_Span(name, was, since, start.time))
        spans.append(_Span(name, max(was, to), start.time, f.time))
        current[name] = (to, f.time) if f.error is None else (max(was, to), start.time)
    spans += [_Span(name, v, since, never) for name, (v, since) in current.items()]
    return spans


def _ahead_of_a_member(
    samples: Sequence[StatusRecord], names: dict[str, str], spans: Sequence[_Span]
) -> list[Anomaly]:
    for s in samples:
        v = _minor(s.cluster_version)
        assert v is not None
        below = [p for p in spans if p.start <= s.time < p.end and p.version < v]
        if below:
            low = min(below, key=lambda p: p.version)
            name = names.get(s.member, s.member)
            return [
                Anomaly(
                    "cluster-version",
                    f"{name} reported cluster version {_fmt(v)} while {low.member} still ran a "
                    f"{_fmt(low.version)} build: the cluster version went past a member",
                    members=sorted({name, low.member}),
                    details={
                        "cluster_version": s.cluster_version,
                        "at": s.time,
                        "member_build": _fmt(low.version),
                    },
                )
            ]
    return []
