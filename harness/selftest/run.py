"""`etcd-harness selftest`: prove that every check bites, against a real cluster.

For each bug class: a fresh 3-member cluster (the model assumes an empty store), an
interposer in front of every member with the bug armed, and an ordinary harness run
pointed at the interposers as if they were the cluster. The class counts as caught
when the check it targets reports it; a control run with no bug must pass, or the
interposer itself would be the finding.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import auth
from harness.cluster.binaries import EtcdBinary
from harness.selftest.bugs import BUGS, Bug, check_of
from harness.selftest.interposer import Interposer

SCENARIO = "selftest"


@dataclass
class Row:
    bug: str
    check: str
    injected: int
    verdict: str
    checks: list[str] = field(default_factory=list)
    seconds: float = 0.0
    first: str = ""
    dir: str = ""
    #: From the first injection to the first record that shows an anomaly, in seconds.
    latency: float | None = None

    @property
    def caught(self) -> bool:
        if self.bug == "none":
            return self.verdict == "ok"
        return self.injected > 0 and self.check in self.checks

    def as_dict(self) -> dict[str, Any]:
        return {
            "bug": self.bug,
            "check": self.check,
            "caught": self.caught,
            "injected": self.injected,
            "verdict": self.verdict,
            "checks": self.checks,
            "seconds": self.seconds,
            "latency": self.latency,
            "first": self.first,
            "dir": self.dir,
        }


def run_one(
    bug_name: str,
    *,
    binary: EtcdBinary,
    out: Path,
    seed: int,
    duration: float,
    netns: bool | None = None,
    tls: bool = False,
    auth_on: bool = False,
) -> Row:
    from harness.cluster import ClusterConfig, make_cluster
    from harness.cluster import auth as cluster_auth
    from harness.runner import RunOptions, run
    from harness.traffic.plan import auth_layout
    from harness.traffic.watchers import PROGRESS_NOTIFY_FLAG
    from scenarios import get_scenario

    started = time.monotonic()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    bug_cls = BUGS.get(bug_name, Bug)
    cfg = ClusterConfig(size=3, extra_flags=[PROGRESS_NOTIFY_FLAG], tls=tls)
    cluster = make_cluster("process", 3, binary, out / "cluster", netns=netns, config=cfg)
    bugs: list[Bug] = []
    proxies: list[Interposer] = []
    realm = None
    if auth_on or bug_cls.check == "auth":
        scn = get_scenario(SCENARIO)
        realm = auth.Realm(auth_layout(scn.profile, scn.keyspace))
    with cluster:
        try:
            if realm is not None:
                cluster_auth.enable(cluster.endpoints(), realm)
            for i, ep in enumerate(cluster.endpoints()):
                bug = bug_cls(member=i, seed=seed, window=max(1.0, duration - 2.5))
                bug.layout = realm.layout if realm is not None else None
                bugs.append(bug)
                proxies.append(Interposer(ep, bug).start())
            if realm is not None:
                auth.register([p.endpoint for p in proxies], realm)
            for b in bugs:
                b.arm()
            res = run(
                RunOptions(
                    scenario=SCENARIO,
                    seed=seed,
                    endpoints=[p.endpoint for p in proxies],
                    duration=duration,
                    out=str(out / "run"),
                    progress=False,
                    check_timeout=60.0,
                    auth=realm is not None,
                )
            )
        finally:
            auth.forget([p.endpoint for p in proxies] + cluster.endpoints())
            for p in proxies:
                with contextlib.suppress(Exception):
                    p.stop()
    kinds = [a["kind"] for a in res.anomalies]
    injected_at = min((b.first_at for b in bugs if b.first_at is not None), default=None)
    return Row(
        latency=_latency(out / "run" / "history.jsonl", res.anomalies, injected_at),
        bug=bug_name,
        check=bug_cls.check or "-",
        injected=sum(len(b.injected) for b in bugs),
        verdict=res.verdict,
        checks=sorted({check_of(k) for k in kinds}),
        seconds=round(time.monotonic() - started, 1),
        first=res.anomalies[0]["message"][:200] if res.anomalies else "",
        dir=str(out),
    )


def _latency(path: Path, anomalies: list[dict[str, Any]], injected_at: float | None) -> float | None:
    """Seconds from the first injection to the earliest record an anomaly points at: the
    return of an operation it names, or the first message of its watch stream after the
    injection. None when there is nothing to measure."""
    if injected_at is None or not anomalies or not path.exists():
        return None
    import datetime as dt

    from harness.history.jsonl import read_history

    hist = read_history(str(path))
    try:
        t0 = dt.datetime.fromisoformat(hist.header.start_time).timestamp()
    except ValueError:
        return None
    inject_ns = int((injected_at - t0) * 1e9)
    ops = {o.id: o for o in hist.ops}
    times: list[int] = []
    for a in anomalies:
        times += [ops[i].ret or ops[i].call for i in a.get("ops", []) if i in ops]
        if a.get("watch") is not None:
            times += [
                min(
                    (w.time for w in hist.watches if w.watch == a["watch"] and w.time >= inject_ns), default=0
                )
            ]
    times = [t for t in times if t >= inject_ns]
    return round((min(times) - inject_ns) / 1e9, 3) if times else None


def selftest(
    bugs: Sequence[str],
    *,
    binary: EtcdBinary,
    out: Path,
    seed: int = 1,
    duration: float = 6.0,
    netns: bool | None = None,
    on_row: Callable[[Row], None] | None = None,
    keep: bool = False,
    tls: bool = False,
    auth_on: bool = False,
) -> list[Row]:
    rows = []
    for name in bugs:
        row = run_one(
            name,
            binary=binary,
            out=out / name,
            seed=seed,
            duration=duration,
            netns=netns,
            tls=tls,
            auth_on=auth_on,
        )
        if row.caught and not keep:
            shutil.rmtree(out / name, ignore_errors=True)
            row.dir = ""
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows
