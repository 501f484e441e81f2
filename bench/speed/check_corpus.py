"""Time the checker on the shared corpus of other tools' histories.

Prints per-file parse and check times (median of --rounds) and totals per group next to
porcupine's figures measured on this machine kind. Run: python -m bench.speed.check_corpus
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

from harness.history.importers import load_history
from models.linearizability import check
from models.registry import make_model

ROOT = Path(__file__).resolve().parents[2]

PORCUPINE_MS = {"porcupine-etcd": "347 (all 102 logs)", "porcupine-kv": "167 (6 logs)", "jepsen-edn": "-"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--histories", default=str(ROOT.parent / "shared" / "histories"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    base = Path(args.histories)
    with open(base / "EXPECTED.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    totals: dict[str, list[float]] = {}
    wrong = 0
    print(f"{'file':32} {'expected':>8} {'verdict':>8} {'ops':>5} {'parse ms':>9} {'check ms':>9}")
    for row in rows:
        path = str(base / row["file"])
        parse_t, check_t = [], []
        verdict = "?"
        ops = 0
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            hist = load_history(path)
            t1 = time.perf_counter()
            model = make_model(hist.header.model or row["model"], hist.header.model_options)
            res = check(model, hist.operations(), timeout=120)
            t2 = time.perf_counter()
            parse_t.append((t1 - t0) * 1000)
            check_t.append((t2 - t1) * 1000)
            verdict, ops = res.verdict, res.ops
        p, c = statistics.median(parse_t), statistics.median(check_t)
        group = row["file"].split("/")[0]
        totals.setdefault(group, []).append(c)
        flag = "" if verdict == row["expected"] else "  WRONG"
        wrong += bool(flag)
        print(f"{row['file']:32} {row['expected']:>8} {verdict:>8} {ops:>5} {p:>9.1f} {c:>9.1f}{flag}")
    print()
    print(f"{'group':16} {'files':>5} {'check ms total':>15}  porcupine (Go) ms")
    for group, ts in totals.items():
        print(f"{group:16} {len(ts):>5} {sum(ts):>15.1f}  {PORCUPINE_MS.get(group, '-')}")
    print(
        f"{'all':16} {sum(len(t) for t in totals.values()):>5} {sum(sum(t) for t in totals.values()):>15.1f}"
    )
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
