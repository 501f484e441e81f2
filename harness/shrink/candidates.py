"""The ways a plan can be made smaller, as pure functions over plans.

Two families: the plan's lists (clients, one client's program, watchers, faults), cut
by ddmin in :mod:`.search` with the chunks :func:`chunk_removals` gives, and its
numbers (duration, fault lengths and times, members, value size), each a
:class:`Reducer` that offers a few smaller values, the biggest cut first. Removing an
item never renumbers the others: a client keeps its id, so the operations it sends
(drawn from the seed, its id and its position) stay the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from harness.traffic.plan import FaultStep, Plan

replace = msgspec.structs.replace

#: The shortest run worth trying: the cluster needs a moment before traffic means much.
MIN_DURATION = 2.0
#: Traffic after the last fault heals, so the final reads see a settled cluster.
FAULT_TAIL = 1.0
#: The shortest fault kept (a kill shorter than this hardly restarts).
MIN_FAULT = 0.1


@dataclass(frozen=True)
class ListPart:
    """One list of a plan that ddmin may cut: how to read it and put a shorter one back."""

    name: str
    minimum: int
    get: Callable[[Plan], list[Any]]
    put: Callable[[Plan, list[Any]], Plan]
    #: What ``--only``-style filters and the display call it ("programs" for every program).
    group: str = ""


def _program_part(client: int) -> ListPart:
    def get(plan: Plan) -> list[Any]:
        return next((list(c.program) for c in plan.clients if c.client == client), [])

    def put(plan: Plan, program: list[Any]) -> Plan:
        clients = [replace(c, program=program) if c.client == client else c for c in plan.clients]
        return replace(plan, clients=clients)

    return ListPart(f"client {client} program", 1, get, put, "programs")


def list_parts(plan: Plan) -> list[ListPart]:
    """The lists to cut, in the order that saves the most run time first: faults (each
    costs an election or a restart), clients, watchers, then every program."""
    return [
        ListPart("faults", 0, lambda p: list(p.faults), lambda p, v: replace(p, faults=v)),
        ListPart("clients", 1, lambda p: list(p.clients), lambda p, v: replace(p, clients=v)),
        ListPart("watchers", 0, lambda p: list(p.watchers), lambda p, v: replace(p, watchers=v)),
        *(_program_part(c.client) for c in plan.clients),
    ]


def chunk_removals(items: Sequence[Any], n: int, minimum: int = 0) -> list[list[Any]]:
    """ddmin's complements: ``items`` split into ``n`` chunks, each list the items
    without one chunk; none shorter than ``minimum``."""
    if not items or n < 1:
        return []
    n = min(n, len(items))
    bounds = [len(items) * i // n for i in range(n + 1)]
    out = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        rest = [*items[:lo], *items[hi:]]
        if len(rest) >= minimum and len(rest) < len(items):
            out.append(rest)
    return out


def last_fault_end(plan: Plan) -> float:
    return max((f.at + f.duration for f in plan.faults), default=0.0)


def _fitting(faults: Sequence[FaultStep], duration: float) -> list[FaultStep]:
    return [f for f in faults if f.at + f.duration <= duration - FAULT_TAIL]


def shorter_duration(plan: Plan) -> list[Plan]:
    """Half the run, then three quarters; faults that no longer fit are dropped."""
    out = []
    for share in (0.5, 0.75):
        d = round(max(MIN_DURATION, plan.duration * share), 3)
        if d < plan.duration - 0.25:
            out.append(replace(plan, duration=d, faults=_fitting(plan.faults, d)))
    return out


def shorter_faults(plan: Plan) -> list[Plan]:
    """Every fault half as long (not below :data:`MIN_FAULT`)."""
    faults = [replace(f, duration=round(max(MIN_FAULT, f.duration / 2), 3)) for f in plan.faults]
    if sum(f.duration for f in faults) >= sum(f.duration for f in plan.faults) - 1e-9:
        return []
    return [replace(plan, faults=faults)]


def earlier_faults(plan: Plan) -> list[Plan]:
    """The schedule moved to start at 1 s, gaps kept: a later cut of the duration then
    keeps the faults."""
    if not plan.faults:
        return []
    shift = round(min(f.at for f in plan.faults) - 1.0, 3)
    if shift <= 0.05:
        return []
    return [replace(plan, faults=[replace(f, at=round(f.at - shift, 3)) for f in plan.faults])]


def min_members(plan: Plan) -> int | None:
    """The fewest members the plan may run on, or None when its members must stay: a
    plan that runs different builds or upgrades them is about those very members."""
    if len(set(plan.etcd_versions or [])) > 1 or any(f.fault == "upgrade" for f in plan.faults):
        return None
    # A fault on a lone member stops the whole cluster, and leader/follower, minority and
    # partitions need a quorum that survives them: three members.
    return 3 if plan.faults else 1


def fewer_members(plan: Plan) -> list[Plan]:
    """Smaller odd clusters, the smallest first; clients and watchers of a member that
    goes are moved to one that stays."""
    low = min_members(plan)
    if low is None:
        return []
    out = []
    for m in range(low, plan.members, 2):
        clients = [replace(c, member=None if c.member is None else c.member % m) for c in plan.clients]
        watchers = [replace(w, member=w.member % m) for w in plan.watchers]
        versions = plan.etcd_versions[:m] if plan.etcd_versions else plan.etcd_versions
        out.append(replace(plan, members=m, clients=clients, watchers=watchers, etcd_versions=versions))
    return out


def smaller_values(plan: Plan) -> list[Plan]:
    """No large values, then half as large."""
    if plan.value_kb <= 0:
        return []
    sizes = [0] + ([plan.value_kb // 2] if plan.value_kb // 2 > 0 else [])
    return [replace(plan, value_kb=v) for v in sizes]


@dataclass(frozen=True)
class Reducer:
    name: str
    offer: Callable[[Plan], list[Plan]]


#: The numbers, run time first: a shorter run makes every later candidate cheaper.
REDUCERS = (
    Reducer("duration", shorter_duration),
    Reducer("fault times", earlier_faults),
    Reducer("fault lengths", shorter_faults),
    Reducer("members", fewer_members),
    Reducer("value size", smaller_values),
)


def first_candidates(plan: Plan) -> list[tuple[str, Plan]]:
    """Every first step the search may take from ``plan``: each reducer's offers and each
    list halved. What the tests hold to "strictly smaller and still valid"."""
    out = [(r.name, p) for r in REDUCERS for p in r.offer(plan)]
    for part in list_parts(plan):
        out += [(part.name, part.put(plan, rest)) for rest in chunk_removals(part.get(plan), 2, part.minimum)]
    return out


@dataclass(frozen=True)
class Size:
    """How big a plan is, in the figures shrink.json and the display show."""

    clients: int
    templates: int
    watchers: int
    faults: int
    fault_seconds: float
    last_fault_end: float
    members: int
    duration: float
    value_kb: int

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def text(self) -> str:
        return (
            f"{self.clients} clients / {self.templates} templates, {self.watchers} watchers, "
            f"{self.faults} faults, {self.members} members, {self.duration:g} s"
        )


def size(plan: Plan) -> Size:
    return Size(
        clients=len(plan.clients),
        templates=sum(len(c.program) for c in plan.clients),
        watchers=len(plan.watchers),
        faults=len(plan.faults),
        fault_seconds=round(sum(f.duration for f in plan.faults), 3),
        last_fault_end=round(last_fault_end(plan), 3),
        members=plan.members,
        duration=plan.duration,
        value_kb=plan.value_kb,
    )


def strictly_smaller(a: Plan, b: Plan) -> bool:
    """``a`` is no bigger than ``b`` in any figure and smaller in one."""
    sa, sb = size(a).as_dict(), size(b).as_dict()
    return all(sa[k] <= sb[k] for k in sa) and any(sa[k] < sb[k] for k in sa)


def problems(plan: Plan) -> list[str]:
    """What would make a plan unrunnable; empty for a good one."""
    out = []
    if not plan.clients:
        out.append("no client")
    if any(not c.program for c in plan.clients):
        out.append("a client with an empty program")
    if plan.members < 1:
        out.append(f"{plan.members} members")
    if any(c.member is not None and not 0 <= c.member < plan.members for c in plan.clients):
        out.append("a client pinned to a member the plan does not have")
    if any(not 0 <= w.member < plan.members for w in plan.watchers):
        out.append("a watcher on a member the plan does not have")
    if plan.etcd_versions is not None and len(plan.etcd_versions) not in (0, plan.members):
        out.append("etcd_versions does not name one build per member")
    if any(f.at + f.duration > plan.duration for f in plan.faults):
        out.append("a fault outlasts the run")
    return out
