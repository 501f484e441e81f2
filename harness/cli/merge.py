"""`etcd-harness merge`: one nightly out of the shards of a matrix run on several machines.

It joins the shards' ``summary.json`` files into one (and writes one JUnit file), in the
order of the unsharded matrix, after checking that they are parts of the same matrix
(seed, scenarios, builds) and that no part is given twice. A part that is missing (a
runner that died) is named and makes the merge fail, so a hole in the nightly is never
read as a pass.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.cli.matrix import report, write_junit
from harness.cli.shards import Shard, parse_shard
from harness.errors import EXIT_INTERNAL, UsageError

SAME_MATRIX = ("seed", "scenarios", "versions", "explore")


def register(sub: Any) -> None:
    p = sub.add_parser("merge", help="join the summaries and JUnit files of `matrix --shard` parts")
    p.add_argument(
        "dirs", nargs="+", metavar="DIR", help="a shard's matrix --out directory (or its summary.json)"
    )
    p.add_argument("--out", required=True, help="directory for the merged summary.json")
    p.add_argument("--junit", help="write the merged JUnit XML here")
    p.set_defaults(func=merge_cmd)


def load(path: str) -> dict[str, Any]:
    p = Path(path)
    file = p / "summary.json" if p.is_dir() else p
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{file}: cannot read a matrix summary: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list) or "matrix" not in data:
        raise UsageError(f"{file}: not the summary.json of `etcd-harness matrix`")
    return data


def merge(parts: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The merged matrix header (with the shards seen and missing) and its runs."""
    first_name, first = parts[0]
    ref = {k: first["matrix"].get(k) for k in SAME_MATRIX}
    seen: dict[int, str] = {}
    count = None
    for name, data in parts:
        meta = data["matrix"]
        if {k: meta.get(k) for k in SAME_MATRIX} != ref:
            raise UsageError(
                f"{name}: a different matrix from {first_name} (seed, scenarios or builds differ)"
            )
        shard: Shard = parse_shard(str(meta.get("shard") or "1/1"))
        if count is not None and shard.count != count:
            raise UsageError(f"{name}: shard {shard}, but {first_name} splits the matrix in {count}")
        count = shard.count
        if shard.index in seen:
            raise UsageError(f"{name}: shard {shard} is also {seen[shard.index]}")
        seen[shard.index] = name
    assert count is not None
    runs = sorted(
        (r for _, d in parts for r in d["runs"]), key=lambda r: (r.get("cell", 0), r.get("name", ""))
    )
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in seen]
    header = ref | {"shards": [f"{i}/{count}" for i in sorted(seen)], "missing": missing}
    return header, runs


def merge_cmd(args: argparse.Namespace) -> int:
    parts = [(d, load(d)) for d in args.dirs]
    header, runs = merge(parts)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps({"matrix": header, "runs": runs}, indent=2) + "\n")
    if args.junit:
        Path(args.junit).parent.mkdir(parents=True, exist_ok=True)
        write_junit(Path(args.junit), runs)
    code = report(out, runs)
    if header["missing"]:
        print(f"merge: missing shards {', '.join(header['missing'])}: the matrix is incomplete")
        return EXIT_INTERNAL
    return code
