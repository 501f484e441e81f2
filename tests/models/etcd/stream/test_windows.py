"""Windows are cut only where no acknowledged operation spans the cut."""

from __future__ import annotations

from models.etcd.stream.windows import Windows
from models.operation import Operation
from tests.common.simulator import SimConfig, simulate
from tests.models.etcd.stream.test_stream import LAG, records


def _op(i: int, call: int, ret: int | None, status: str = "ok") -> Operation:
    return Operation(id=i, client=0, call=call, ret=ret, input={"kind": "range", "key": "a"}, status=status)  # type: ignore[arg-type]


def test_every_cut_is_quiescent() -> None:
    h = simulate(SimConfig(seed=4, ops=3000)).history
    w = Windows(100, LAG)
    cuts = []
    for rec in records(h):
        if hasattr(rec, "status"):
            op = Operation(
                id=rec.id, client=rec.client, call=rec.call, ret=rec.ret, input=rec.input, status=rec.status
            )
            got = w.add(op)
            if got is not None:
                cuts.append((got, w.closed_at, list(w.buffer)))
    assert len(cuts) >= 10
    for window, at, after in cuts:
        assert len(window) >= 100
        assert all(o.ret is not None and o.ret <= at for o in window if o.status == "ok")
        assert all(o.call > at for o in after)
    assert not w.late_ok


def test_no_cut_inside_an_acknowledged_operation() -> None:
    w = Windows(2, 0)
    assert w.add(_op(0, 0, 100)) is None
    assert w.add(_op(1, 10, 20)) is None
    assert w.add(_op(2, 30, 40)) is None
    window = w.add(_op(3, 200, 210))
    assert window is not None and [o.id for o in window] == [0, 1, 2]
    assert w.closed_at == 100


def test_a_late_operation_is_recorded() -> None:
    w = Windows(1, 0)
    w.add(_op(0, 0, 10))
    assert w.add(_op(1, 20, 30)) is not None
    w.add(_op(2, 5, 40))
    w.add(_op(3, 6, None, "unknown"))
    assert w.late_ok == [2]
    assert [o.id for o in w.late_unknown] == [3]
