"""Time and peak RSS of the full and the streaming (``--stream``) check as a simulated
history grows: the streaming check's RSS must stay flat.

For each size, simulates a history (kv mix, 0.5% unknown outcomes, watches, periodic
compaction, leases: ``tests/common/simulator.py``), writes it as JSONL, and checks it in
a child process of its own per mode (so each reading is that check's own peak RSS),
under ``--max-memory`` and ``--timeout``: a check that does not fit ends ``unknown``
with the budget named. ``--modes stream`` skips the full check (it needs ~7 KB/op).

    python -m bench.speed.check_stream [--sizes 100000,1000000] [--modes full,stream] [--mix kv|kubernetes]
        [--max-memory 2G] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.history.jsonl import write_history
from tests.common.sim_mixes import kubernetes
from tests.common.simulator import SimConfig, simulate


def check_in_child(
    path: Path, stream: bool, max_memory: str, timeout: float
) -> tuple[dict[str, object], float, int]:
    """(the check's JSON line, seconds, peak RSS bytes of that child alone)."""
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child forked from
    # this process (which holds the simulated history) would report this one's peak.
    code = (
        "import sys\n"
        "from harness.cli import main\n"
        "try:\n"
        "    rc = main(sys.argv[1:])\n"
        "finally:\n"
        "    hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM:')]\n"
        "    print('PEAK', hwm[0].split()[1], file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    args = ["check", "--json", "--max-memory", max_memory, "--timeout", str(timeout)]
    if stream:
        args.append("--stream")
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code, *args, str(path)], capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    peak = max((int(ln.split()[1]) for ln in done.stderr.splitlines() if ln.startswith("PEAK ")), default=0)
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if lines else {"verdict": f"error (exit {done.returncode})"}
    return result, elapsed, peak * 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000", help="operations per history")
    ap.add_argument("--mix", default="kv", choices=["kv", "kubernetes"], help="the simulator's request mix")
    ap.add_argument("--modes", default="full,stream", help="full, stream or both")
    ap.add_argument("--max-memory", default="2G")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--keep",
        metavar="DIR",
        help="write the histories here and keep them (default: a temporary directory)",
    )
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    modes = [m.strip() for m in args.modes.split(",")]
    print(f"{'ops':>9} {'mode':>6} {'file MB':>8} {'sim s':>6} {'check s':>8} {'peak RSS MB':>12}  verdict")
    with tempfile.TemporaryDirectory(prefix="etcd-check-stream-") as tmp:
        for n in sizes:
            t0 = time.monotonic()
            path = Path(args.keep or tmp) / f"h{n}-{args.mix}-{args.seed}.jsonl"
            if not path.exists():
                mix = kubernetes if args.mix == "kubernetes" else None
                cfg = SimConfig(seed=args.seed, ops=n, watches=4, keys=20, mix=mix)
                write_history(path, simulate(cfg).history)
            sim_s = time.monotonic() - t0
            for mode in modes:
                result, check_s, peak = check_in_child(path, mode == "stream", args.max_memory, args.timeout)
                verdict = str(result.get("verdict"))
                if result.get("reason"):
                    verdict += f": {result['reason']}"
                print(
                    f"{n:>9} {mode:>6} {path.stat().st_size / 1e6:>8.1f} {sim_s:>6.1f} {check_s:>8.2f} "
                    f"{peak / 1e6:>12.0f}  {verdict}",
                    flush=True,
                )
            if not args.keep:
                path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
