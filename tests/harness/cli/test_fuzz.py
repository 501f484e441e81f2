"""Mutated histories never crash the checker, never hang it, and never exit with anything
but a verdict (0, 1, 3) or bad input (2).

Seeds are real histories (the shared corpus of other tools' logs, the harness's own
regression histories cut short) and a hand-built etcd history with watches, status
samples and faults; Hypothesis mutates them structurally (a JSON value replaced, a
field dropped or added, a record duplicated or moved) and as bytes (spans deleted,
duplicated or replaced by tokens of the format), then ``etcd-harness check`` and
``etcd-harness report`` run in-process on the result.
"""

from __future__ import annotations

import json
import lzma
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.history.jsonl import write_history
from models.history import FaultRecord, StatusRecord
from tests.common.builders import H, del_ev, kv, put_ev
from tests.common.shared import HISTORIES

REGRESSIONS = Path(__file__).resolve().parents[2] / "data" / "regressions"
SHARED_REGRESSIONS = HISTORIES.parent / "regressions"

#: Values that break naive code: wrong types, extremes of every integer range, deep or
#: odd structures, and strings the format uses.
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, -1, 1, 2, 2**31, 2**53, 2**62, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30]),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        ["", "a", "\x00", "range", "put", "txn", "ok", "unknown", "fail", "PUT", "DELETE", "=", "abc"]
    ),
    st.text(max_size=8),
    st.just([]),
    st.just({}),
    st.just([5]),
    st.just({"revision": "x"}),
    st.just({"kind": "txn", "success": [{"kind": "txn"}]}),
    st.lists(st.integers(), max_size=3),
)


def _etcd_history() -> bytes:
    h = H()
    h.put("a", "1", 2, 10, 20)
    h.put("b", "1", 3, 30, 40, prev=kv("b", "0", 1))
    h.op(
        {"kind": "lease_grant", "id": 5, "ttl": 600}, {"header": {"revision": 3}, "id": 5, "ttl": 600}, 41, 42
    )
    h.put("a", "2", 4, 50, 60, lease=5)
    h.op({"kind": "delete", "key": "b"}, {"header": {"revision": 5}, "deleted": 1, "prev_kvs": []}, 61, 62)
    h.op({"kind": "compact", "revision": 3}, {"header": {"revision": 5}}, 63, 64)
    h.op(
        {
            "kind": "txn",
            "compare": [{"key": "a", "target": "mod", "result": "=", "value": 4}],
            "success": [{"kind": "put", "key": "c", "value": "1"}],
            "failure": [{"kind": "range", "key": "a"}],
        },
        {"header": {"revision": 6}, "succeeded": True, "responses": [{"kind": "put", "prev_kv": None}]},
        65,
        66,
    )
    h.put("d", "1", 0, 67, None, status="unknown")
    h.op({"kind": "lease_revoke", "id": 5}, {"header": {"revision": 7}}, 68, 69)
    h.get("a", 7, [], 70, 80, end="z", serializable=True, member="m2", count=0)
    h.op({"kind": "range", "key": "a", "revision": 2}, {"error": "compacted"}, 81, 82)
    h.watch(
        0, [("created", 1), ("events", [put_ev("a", "1", 2)]), ("events", [put_ev("b", "1", 3)])], start=2
    )
    h.watch(
        1, [("events", [del_ev("b", 5, prev=kv("b", "1", 3))]), ("progress", 5), ("canceled", 3)], start=5
    )
    for t in (100, 200):
        for m in ("m1", "m2"):
            h.statuses.append(
                StatusRecord(time=t, member=m, revision=7, raft_applied_index=9, hash=1, hash_revision=7)
            )
    hist = h.history()
    hist.faults = [
        FaultRecord(id=1, phase="start", kind="compact", time=50, targets=["m1"], detail={"revision": 2}),
        FaultRecord(id=1, phase="end", kind="compact", time=51, targets=["m1"]),
        FaultRecord(id=2, phase="start", kind="kill", time=52, targets=["m2"]),
    ]
    return _written(hist)


def _written(hist: Any) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "h.jsonl"
        write_history(path, hist)
        return path.read_bytes()


def _head(data: bytes, lines: int) -> bytes:
    return b"\n".join(data.split(b"\n")[:lines]) + b"\n"


def seeds() -> dict[str, bytes]:
    out = {"etcd-built.jsonl": _etcd_history()}
    for case in sorted(REGRESSIONS.iterdir()):
        out[f"{case.name}.jsonl"] = _head(lzma.decompress((case / "history.jsonl.xz").read_bytes()), 60)
    if SHARED_REGRESSIONS.exists():
        for f in sorted(SHARED_REGRESSIONS.glob("*.xz")):
            out[f.name.removesuffix(".xz")] = _head(lzma.decompress(f.read_bytes()), 60)
    if HISTORIES.exists():
        out["porcupine-etcd.log"] = _head((HISTORIES / "porcupine-etcd" / "etcd_000.log").read_bytes(), 40)
        out["porcupine-kv.txt"] = _head((HISTORIES / "porcupine-kv" / "c01-ok.txt").read_bytes(), 40)
        out["jepsen.edn"] = (HISTORIES / "jepsen-edn" / "cas-failure.edn").read_bytes()[:3000].rsplit(
            b"}", 1
        )[0] + b"}]"
    return out


SEEDS = seeds()
JSONL = sorted(name for name in SEEDS if name.endswith(".jsonl"))
TOKENS = [b"[", b"]", b"{", b"}", b":", b",", b'"', b"\n", b"\x00", b"nil", b":invoke", b":ok", b":info",
          b"-1", b"99999999999999999999999", b"[1 2]", b'{"type":"op"}', b"\xff\xfe", b"\t"]  # fmt: skip


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


INTS = st.one_of(
    st.sampled_from([0, -1, 1, 2, 3, 2**31, 2**53, 2**62, 2**63 - 1, -(2**63)]), st.integers(-5, 50)
)


def _alike(value: Any) -> st.SearchStrategy[Any]:
    """Another value of the same JSON type: what passes the schema but may mean nonsense."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return INTS
    if isinstance(value, str):
        return st.sampled_from(["", "a", "b", "z", "\x00", "key/0001", "1", "2", value + "x"])
    if isinstance(value, list):
        return st.sampled_from([[], value + value, value[:1]])
    return ODD


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    value[path[0]] = _set(value[path[0]], path[1:], new)
    return value


def _drop(value: Any, path: tuple[Any, ...]) -> Any:
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    return value


@st.composite
def structural(draw: st.DrawFn) -> bytes:
    """A JSONL seed with a few records mutated as JSON."""
    lines = SEEDS[draw(st.sampled_from(JSONL))].splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        rec = json.loads(lines[i])
        action = draw(
            st.sampled_from(["same", "same", "same", "replace", "drop", "add", "dup", "move", "type"])
        )
        if action in ("same", "replace", "drop", "add"):
            path = draw(st.sampled_from(_paths(rec)))
            if action == "same":
                rec = _set(rec, path, draw(_alike(_get(rec, path))))
            elif action == "replace":
                rec = _set(rec, path, draw(ODD))
            elif action == "drop" and path:
                rec = _drop(rec, path)
            elif action == "add":
                parent: Any = rec
                for step in path:
                    parent = parent[step]
                if isinstance(parent, dict):
                    parent[
                        draw(st.sampled_from(["kind", "revision", "sort_order", "x", "header", "kvs"]))
                    ] = draw(ODD)
                elif isinstance(parent, list):
                    parent.append(draw(ODD))
            lines[i] = json.dumps(rec).encode()
        elif action == "dup":
            lines.insert(draw(st.integers(0, len(lines))), lines[i])
        elif action == "move":
            lines.insert(draw(st.integers(0, len(lines))), lines.pop(i))
        elif isinstance(rec, dict):
            rec["type"] = draw(
                st.sampled_from(["op", "watch", "status", "fault", "note", "end", "header", "zz"])
            )
            lines[i] = json.dumps(rec).encode()
    return b"\n".join(lines) + b"\n"


#: Fields whose change only ever makes bad input (ids, record types, the header's identity).
FIXED = frozenset({"id", "type", "format", "version", "status"})


@st.composite
def semantic(draw: st.DrawFn) -> bytes:
    """A JSONL seed with values replaced by others of the same type: well-formed records
    that say nonsense (revisions far beyond any write, times out of order, events of
    keys never written), which must reach the checks and get a verdict."""
    lines = SEEDS[draw(st.sampled_from(JSONL))].splitlines()
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(1, len(lines) - 1))
        rec = json.loads(lines[i])
        paths = [p for p in _paths(rec) if p and not FIXED & {x for x in p if isinstance(x, str)}]
        if paths:
            path = draw(st.sampled_from(paths))
            rec = _set(rec, path, draw(_alike(_get(rec, path))))
            lines[i] = json.dumps(rec).encode()
    return b"\n".join(lines) + b"\n"


@st.composite
def bytewise(draw: st.DrawFn) -> bytes:
    """Any seed with spans of bytes deleted, repeated or replaced by tokens."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 4))):
        a = draw(st.integers(0, len(data)))
        b = min(len(data), a + draw(st.integers(0, 40)))
        action = draw(st.sampled_from(["delete", "token", "repeat", "truncate"]))
        if action == "delete":
            del data[a:b]
        elif action == "token":
            data[a:b] = draw(st.sampled_from(TOKENS))
        elif action == "repeat":
            data[a:a] = data[a:b]
        else:
            del data[a:]
    return bytes(data)


def _check(tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, *args: str) -> None:
    path = tmp_path / "mutant"
    path.write_bytes(data)
    code = main(["check", "--timeout", "10", *args, str(path)])
    _, err = capsys.readouterr()
    assert code in (0, 1, 2, 3), err
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 2:
        assert err.strip() and all(line.startswith("etcd-harness: ") for line in err.strip().splitlines()), (
            err
        )


FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=structural())
def test_structural_mutants_get_a_verdict_or_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    _check(tmp_path, capsys, data)


@FUZZ
@given(data=semantic())
def test_nonsense_that_fits_the_schema_gets_a_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    _check(tmp_path, capsys, data)


@FUZZ
@given(data=bytewise())
def test_byte_mutants_get_a_verdict_or_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    _check(tmp_path, capsys, data)


@settings(FUZZ, max_examples=60)
@given(data=structural(), model=st.sampled_from(["etcd", "kv", "cas-register"]))
def test_mutants_checked_as_another_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, model: str
) -> None:
    _check(tmp_path, capsys, data, "--model", model)


@settings(FUZZ, max_examples=40)
@given(data=structural())
def test_mutants_get_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes) -> None:
    path = tmp_path / "mutant"
    path.write_bytes(data)
    code = main(["report", "--no-plots", "--timeout", "10", str(path), "-o", str(tmp_path / "r.html")])
    _, err = capsys.readouterr()
    assert code in (0, 1, 2, 3), err
    assert "Traceback" not in err and "internal error" not in err, err
