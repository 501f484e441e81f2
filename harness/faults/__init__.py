"""Faults by name: ``make_fault("partition", mode="isolate-leader")`` or ``parse_fault("kill:target=leader")``."""

from __future__ import annotations

from typing import Any

from harness.faults.auth import AuthPasswordFault, AuthRevokeFault, AuthUserFault
from harness.faults.base import TARGETS, Fault, FaultError, Injector, Window, pick_targets
from harness.faults.composite import PauseLossFault, ReplaceKillFault
from harness.faults.delay import DelayFault
from harness.faults.maintenance import CompactFault, DefragFault, ReplaceFault
from harness.faults.network import LossFault, PartitionFault
from harness.faults.process import KillFault, PauseFault
from harness.faults.timed import CrashDuringFault, SnapshotLagFault
from harness.faults.upgrade import UpgradeFault

FAULTS: dict[str, type[Fault]] = {
    f.name: f
    for f in (
        KillFault,
        PauseFault,
        PartitionFault,
        LossFault,
        DelayFault,
        ReplaceFault,
        DefragFault,
        CompactFault,
        CrashDuringFault,
        SnapshotLagFault,
        PauseLossFault,
        ReplaceKillFault,
        UpgradeFault,
        AuthRevokeFault,
        AuthUserFault,
        AuthPasswordFault,
    )
}


def make_fault(name: str, **params: Any) -> Fault:
    try:
        cls = FAULTS[name]
    except KeyError:
        raise FaultError(f"unknown fault {name!r} (choose from {', '.join(sorted(FAULTS))})") from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise FaultError(f"bad parameters for fault {name}: {exc}") from None


def parse_fault(spec: str) -> Fault:
    """``name[:key=value,...]``; numbers are converted, so ``loss:probability=0.2`` works."""
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for part in filter(None, rest.split(",")):
        key, eq, value = part.partition("=")
        if not eq:
            raise FaultError(f"bad fault parameter {part!r} in {spec!r} (want key=value)")
        params[key.strip().replace("-", "_")] = _convert(value.strip())
    return make_fault(name.strip(), **params)


def _convert(v: str) -> Any:
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    for t in (int, float):
        try:
            return t(v)
        except ValueError:
            pass
    return v


__all__ = [
    "FAULTS",
    "TARGETS",
    "CompactFault",
    "CrashDuringFault",
    "DefragFault",
    "DelayFault",
    "Fault",
    "FaultError",
    "Injector",
    "KillFault",
    "LossFault",
    "PartitionFault",
    "PauseFault",
    "ReplaceFault",
    "SnapshotLagFault",
    "UpgradeFault",
    "Window",
    "make_fault",
    "parse_fault",
    "pick_targets",
]
