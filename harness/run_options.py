"""What a run is asked to do, checked before anything is started: a bad argument is one
line and exit 2, never a cluster started for nothing."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from harness import auth
from harness.client.etcd import EtcdClient
from harness.errors import HarnessError, UsageError
from harness.traffic.plan import Plan


@dataclass
class RunOptions:
    scenario: str
    seed: int
    backend: str = "process"
    etcd: str | None = None
    etcd_version: str | None = None
    members: int | None = None
    duration: float | None = None
    qps: float | None = -1.0  # -1: the scenario's; 0: unthrottled
    out: str | None = None
    endpoints: list[str] | None = None
    netns: bool | None = None
    check_timeout: float = 300.0
    plan: Plan | None = None  # reproduce: replay this plan instead of drawing one
    progress: bool = True
    snapshot_count: int | None = None
    #: Draw the configuration from the seed (`etcd-harness explore`) instead of a scenario's.
    explore: bool = False
    #: Client and peer traffic over TLS with certificates made for the run.
    tls: bool = False
    #: Authentication on: traffic as a test user whose permissions the auth faults change.
    auth: bool = False
    #: Processes the plan's clients are spread over (``--workers``).
    workers: int = 1


def default_out_dir(scn: str, seed: int) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{scn}-seed{seed}-{stamp}"


#: Most traffic processes: more than the machine's cores only adds switching.
MAX_WORKERS = 16

#: Most members a run starts: quorum traffic and the machine's two cores bound it.
MAX_MEMBERS = 9


def validate_options(opts: RunOptions) -> None:
    """Reject options that cannot work before anything is started (exit 2)."""
    if opts.members is not None and not 1 <= opts.members <= MAX_MEMBERS:
        raise UsageError(f"--members must be between 1 and {MAX_MEMBERS}, not {opts.members}")
    if opts.duration is not None and not (math.isfinite(opts.duration) and opts.duration > 0):
        raise UsageError(f"--duration must be a positive number of seconds, not {opts.duration:g}")
    if not 1 <= opts.workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be between 1 and {MAX_WORKERS}, not {opts.workers}")
    if opts.workers > 1 and opts.auth:
        # A password the auth faults change lives in this process: workers would log in
        # with the old one.
        raise UsageError("--workers with --auth is not supported: run auth with one worker")
    if opts.qps is not None and opts.qps != -1.0 and not (math.isfinite(opts.qps) and opts.qps > 0):
        raise UsageError(f"--qps must be positive (0: unthrottled), not {opts.qps:g}")
    if opts.snapshot_count is not None and opts.snapshot_count < 1:
        raise UsageError(f"--snapshot-count must be at least 1, not {opts.snapshot_count}")
    if not (math.isfinite(opts.check_timeout) and opts.check_timeout > 0):
        raise UsageError(f"--check-timeout must be a positive number of seconds, not {opts.check_timeout:g}")
    if opts.tls and opts.endpoints is not None:
        raise UsageError("--tls starts a cluster with its own CA; it cannot test --endpoints")
    if opts.auth and opts.endpoints is not None and any(auth.realm_for(ep) is None for ep in opts.endpoints):
        raise UsageError("--auth starts a cluster with its own users; it cannot test --endpoints")
    if opts.explore and opts.endpoints is not None:
        raise UsageError("explore draws the cluster it starts; it cannot test --endpoints")
    if opts.endpoints is not None:
        if not opts.endpoints:
            raise UsageError("--endpoints needs at least one URL (http://HOST:PORT)")
        for ep in opts.endpoints:
            parse_endpoint(ep)


def parse_endpoint(url: str) -> tuple[str, int]:
    """(host, port) of an ``http://HOST:PORT`` client URL; one clear error otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        port = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise UsageError(f"bad endpoint {url!r}: want http://HOST:PORT")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(f"bad endpoint {url!r}: want http://HOST:PORT, nothing after the port")
    return parts.hostname, port


def prepare_out_dir(out: Path) -> None:
    """Create the artifact directory and prove it writable before a cluster is started."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None


def preflight_endpoints(endpoints: list[str]) -> None:
    """A cluster the harness did not start must answer, and be fresh: the model starts
    from revision 1, an empty store, so earlier writes would read as phantom ones."""
    for ep in endpoints:
        try:
            with EtcdClient(ep, timeout=3.0) as c:
                st = c.status(timeout=3.0)
        except Exception as exc:  # noqa: BLE001 - any failure means: nothing to test there
            why = getattr(exc, "message", "") or str(exc) or type(exc).__name__
            raise HarnessError(f"cannot reach {ep}: {why.splitlines()[0][:200]}") from None
        if st.header.revision > 1:
            raise HarnessError(
                f"{ep} is at revision {st.header.revision}: the checks need a fresh cluster "
                "(revision 1, nothing written yet)"
            )
