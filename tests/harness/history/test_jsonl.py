from __future__ import annotations

from pathlib import Path

import pytest

from harness.history.errors import HistoryError
from harness.history.jsonl import HistoryWriter, read_history, write_history
from models.history import EndRecord, ErrorInfo, FaultRecord, Header, History, OpRecord


def _write(path: Path) -> None:
    w = HistoryWriter(path, Header(scenario="t", seed=7, model="cas-register", model_options={"initial": 0}))
    w.write(
        OpRecord(id=0, client=1, call=10, ret=20, input={"kind": "write", "value": 1}, status="ok", output={})
    )
    w.write(
        OpRecord(
            id=1,
            client=2,
            call=15,
            ret=99,
            input={"kind": "write", "value": 2},
            status="unknown",
            error=ErrorInfo(code="DEADLINE_EXCEEDED", message="deadline"),
        )
    )
    w.write(FaultRecord(id=0, phase="start", kind="kill", time=12, targets=["m1"]))
    w.close(EndRecord(time=100))


def test_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "h.jsonl"
    _write(p)
    h = read_history(str(p))
    assert h.header.seed == 7 and h.header.version == 1
    assert [o.id for o in h.ops] == [0, 1]
    assert h.ops[1].error is not None and h.ops[1].error.code == "DEADLINE_EXCEEDED"
    assert h.faults[0].targets == ["m1"]
    assert h.finished
    ops = h.operations()
    assert ops[1].effective_return > 10**15 and ops[0].effective_return == 20


def test_truncated_last_line_is_skipped_with_warning(tmp_path: Path) -> None:
    p = tmp_path / "h.jsonl"
    _write(p)
    data = p.read_bytes()
    p.write_bytes(data[: data.rindex(b'{"type":"end"') + 9])
    h = read_history(str(p))
    assert not h.finished and len(h.ops) == 2
    assert any("truncated" in w for w in h.warnings)


def test_malformed_middle_line_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "h.jsonl"
    _write(p)
    lines = p.read_text().splitlines()
    lines[2] = lines[2][:30]
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(HistoryError) as exc:
        read_history(str(p))
    assert exc.value.line == 3 and "h.jsonl:3" in str(exc.value)


def test_unknown_record_type_is_skipped(tmp_path: Path) -> None:
    p = tmp_path / "h.jsonl"
    _write(p)
    with open(p, "a") as f:
        f.write('{"type":"future-thing","x":1}\n')
    h = read_history(str(p))
    assert any("unknown type" in w for w in h.warnings)


@pytest.mark.parametrize(
    "body, reason",
    [
        (
            '{"type":"op","id":0,"client":0,"call":1,"input":{},"status":"fail"}\n',
            "first record must be the header",
        ),
        ('{"type":"header","format":"etcd-harness-history","version":99}\n', "newer"),
        ('{"type":"header","format":"other","version":1}\n', "unknown format"),
        (
            '{"type":"header","format":"etcd-harness-history","version":1}\n'
            '{"type":"op","id":0,"client":0,"call":5,"return":1,"input":{},"status":"ok"}\n',
            "returns before its call",
        ),
        (
            '{"type":"header","format":"etcd-harness-history","version":1}\n'
            '{"type":"op","id":0,"client":0,"call":5,"return":6,"input":{"kind":"defragment"},"status":"fail"}\n'
            '{"type":"op","id":0,"client":0,"call":7,"return":8,"input":{"kind":"defragment"},"status":"fail"}\n',
            "duplicate operation id",
        ),
        (
            '{"type":"header","format":"etcd-harness-history","version":1}\n'
            '{"type":"op","id":0,"client":0,"call":5,"input":{},"status":"maybe"}\n',
            "invalid record",
        ),
    ],
)
def test_bad_files(tmp_path: Path, body: str, reason: str) -> None:
    p = tmp_path / "h.jsonl"
    p.write_text(body)
    with pytest.raises(HistoryError, match=reason):
        read_history(str(p))


def test_compressed_histories_read_like_plain_ones(tmp_path: Path) -> None:
    import gzip
    import lzma

    from harness.history.importers import load_history

    plain = tmp_path / "h.jsonl"
    h = History(
        header=Header(scenario="s", seed=3),
        ops=[
            OpRecord(
                id=0,
                client=0,
                call=1,
                input={"kind": "range", "key": "a"},
                status="ok",
                ret=2,
                output={"header": {"revision": 1}},
            )
        ],
        finished=True,
    )
    write_history(plain, h)
    data = plain.read_bytes()
    (tmp_path / "h.gz").write_bytes(gzip.compress(data))
    (tmp_path / "h.xz").write_bytes(lzma.compress(data))
    for name in ("h.gz", "h.xz"):
        got = load_history(str(tmp_path / name))
        assert got.header.seed == 3 and [o.id for o in got.ops] == [0] and got.finished
    (tmp_path / "cut.xz").write_bytes(lzma.compress(data)[:40])
    with pytest.raises(HistoryError, match="corrupt compressed file"):
        load_history(str(tmp_path / "cut.xz"))


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 64 KiB file system (tmpfs), to fill up; needs root."""
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_keeps_the_history_to_its_last_whole_record(small_disk: Path) -> None:
    from models.history import NoteRecord

    path = small_disk / "h.jsonl"
    w = HistoryWriter(path, Header(scenario="s", seed=1))
    for i in range(5000):  # far more than 64 KiB; never raises in the recording thread
        w.write(NoteRecord(time=i, text="x" * 50))
    assert w.error is not None and w.records < 5000
    assert "No space left on device" in w.error_message() and f"({w.records} records)" in w.error_message()
    w.close(EndRecord(time=9))
    data = path.read_bytes()
    assert data.endswith(b"\n") and len(data) == w.size
    h = read_history(str(path))
    assert len(h.notes) == w.records - 1 and not h.finished and not h.warnings


def test_an_interrupted_run_is_not_finished(tmp_path: Path) -> None:
    """Only a run that ended by itself settled the cluster; the convergence check then
    expects nothing after the end."""
    for reason, finished in (("finished", True), ("interrupted", False)):
        p = tmp_path / f"{reason}.jsonl"
        w = HistoryWriter(p, Header())
        w.close(EndRecord(time=5, reason=reason))
        assert read_history(str(p)).finished is finished
