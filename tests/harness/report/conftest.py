from __future__ import annotations

from pathlib import Path

import pytest

from harness.history.jsonl import read_history, write_history
from models.history import FaultRecord, Header, History, NoteRecord, OpRecord, StatusRecord, WatchRecord

MS = 1_000_000


def register_history(violation: bool) -> History:
    """Our own format (ns times) with every record kind a report shows.

    Client 0 writes 1 then 2; client 1 reads. With ``violation`` the last read sees 1
    after the write of 2 returned, which no order explains.
    """
    ops = [
        OpRecord(
            id=0,
            client=0,
            call=1 * MS,
            ret=3 * MS,
            input={"kind": "write", "value": 1},
            output={},
            status="ok",
            member="m1",
        ),
        OpRecord(
            id=1,
            client=1,
            call=4 * MS,
            ret=6 * MS,
            input={"kind": "read"},
            output={"value": 1},
            status="ok",
            member="m2",
        ),
        OpRecord(
            id=2,
            client=0,
            call=7 * MS,
            ret=9 * MS,
            input={"kind": "write", "value": 2},
            output={},
            status="ok",
            member="m1",
        ),
        OpRecord(
            id=3,
            client=2,
            call=7 * MS,
            ret=30 * MS,
            input={"kind": "cas", "expect": 5, "value": 6},
            status="unknown",
            member="m3",
        ),
        OpRecord(
            id=4,
            client=1,
            call=10 * MS,
            ret=12 * MS,
            input={"kind": "read"},
            output={"value": 1 if violation else 2},
            status="ok",
            member="m2",
        ),
        OpRecord(
            id=5,
            client=0,
            call=13 * MS,
            ret=14 * MS,
            input={"kind": "write", "value": 3},
            status="fail",
            member="m1",
        ),
        OpRecord(
            id=6,
            client=3,
            call=15 * MS,
            ret=None,
            input={"kind": "write", "value": 9},
            status="unknown",
            member="m3",
        ),
    ]
    hist = History(
        header=Header(
            scenario="unit",
            seed=7,
            model="cas-register",
            model_options={"initial": None},
            etcd_versions=["3.5.17"],
            cluster={"members": [{"name": "m1"}, {"name": "m2"}, {"name": "m3"}]},
            start_time="2026-01-01T00:00:00Z",
        ),
        ops=ops,
        faults=[
            FaultRecord(id=1, phase="start", kind="kill", time=5 * MS, targets=["m3"]),
            FaultRecord(id=1, phase="end", kind="kill", time=11 * MS, targets=["m3"]),
            FaultRecord(id=2, phase="start", kind="partition", time=16 * MS, targets=["m1"]),
        ],
        watches=[
            WatchRecord(watch=1, client=9, time=1 * MS, event="request", member="m1", request={"key": "k"}),
            WatchRecord(watch=1, client=9, time=2 * MS, event="created", member="m1", header={"revision": 1}),
            WatchRecord(
                watch=1,
                client=9,
                time=8 * MS,
                event="events",
                member="m1",
                header={"revision": 3},
                events=[
                    {"type": "PUT", "kv": {"key": "k", "value": "2", "mod_revision": 3}, "prev_kv": None}
                ],
            ),
        ],
        statuses=[
            StatusRecord(time=t * MS, member=m, revision=t // 5 + 1)
            for t in (0, 10, 20)
            for m in ("m1", "m2")
        ],
        notes=[NoteRecord(time=4 * MS, text="traffic started")],
        finished=True,
    )
    return hist


@pytest.fixture
def ok_history(tmp_path: Path) -> History:
    path = tmp_path / "ok.jsonl"
    write_history(path, register_history(violation=False))
    return read_history(str(path))


@pytest.fixture
def bad_history(tmp_path: Path) -> History:
    path = tmp_path / "bad.jsonl"
    write_history(path, register_history(violation=True))
    return read_history(str(path))
