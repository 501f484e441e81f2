"""`etcd-harness cut HISTORY`: the history as it stood at an earlier instant, for bug
reports and regression tests (see harness.history.cut for why this is sound).

``--shortest`` finds, by bisection over time, the earliest cut at which the etcd checks
still report the same kinds of anomaly, and writes that one.
"""

from __future__ import annotations

import argparse
import gzip
import lzma
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import EXIT_OK, HarnessError
from harness.history.cut import cut
from harness.history.jsonl import read_history, write_history
from models.history import History


def register(sub: Any) -> None:
    p = sub.add_parser("cut", help="cut an etcd-harness history short (sound: keeps what was known then)")
    p.add_argument("history", metavar="HISTORY")
    p.add_argument("-o", "--output", required=True, help="where to write (.xz or .gz: compressed)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument(
        "--until", type=float, metavar="SECONDS", help="keep what was known this long into the run"
    )
    g.add_argument(
        "--shortest",
        action="store_true",
        help="the earliest cut with the same kinds of anomaly (checks many times)",
    )
    p.add_argument("--precision", type=float, default=0.5, help="--shortest: seconds (default 0.5)")
    p.set_defaults(func=cut_cmd)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and a.samefile(b))
    except OSError:
        return False


def _kinds(hist: History) -> set[str]:
    from models.check import check

    return check(hist).kinds()


def cut_cmd(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if _same_file(Path(args.history), out):
        raise HarnessError(f"{args.output}: refusing to overwrite the history being cut; write elsewhere")
    if not out.parent.is_dir():
        raise HarnessError(f"cannot write {out}: no directory {out.parent}")
    if args.until is not None and not args.until >= 0:
        raise HarnessError(f"--until must be a number of seconds >= 0, not {args.until:g}")
    if not args.precision > 0:
        raise HarnessError(f"--precision must be a positive number of seconds, not {args.precision:g}")
    hist = read_history(args.history)
    end = max([o.ret or o.call for o in hist.ops] + [w.time for w in hist.watches] + [0])
    if args.until is not None:
        until = int(args.until * 1e9)
    else:
        want = _kinds(hist)
        if not want:
            raise HarnessError(f"{args.history}: no anomaly to keep; --shortest needs a failing history")
        lo, hi = 0, end
        step = int(args.precision * 1e9)
        for _ in range(64):
            if hi - lo <= step:
                break
            mid = (lo + hi) // 2
            if want <= _kinds(cut(hist, mid)):
                hi = mid
            else:
                lo = mid
        until = hi
        print(f"shortest cut with {', '.join(sorted(want))}: {until / 1e9:.3f} s of {end / 1e9:.3f} s")
    short = cut(hist, until)
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "h.jsonl"
        write_history(plain, short)
        data = plain.read_bytes()
    if out.suffix == ".xz":
        data = lzma.compress(data, preset=9)
    elif out.suffix == ".gz":
        data = gzip.compress(data, 9)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise HarnessError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"{out}: {len(short.ops)} of {len(hist.ops)} operations, {len(data)} bytes")
    return EXIT_OK
