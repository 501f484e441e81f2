"""Jepsen/Knossos histories: one EDN vector of op maps, register operations.

Knossos semantics: ``:fail`` means the op did not happen; ``:info`` means unknown.
The nemesis's events become fault records so reports can shade them.
"""

from __future__ import annotations

from functools import partial

from harness.history.errors import HistoryError
from harness.history.files import Source, read_text
from harness.history.importers import edn
from harness.history.importers.jepsen_ops import OpPairer, register_convert
from models.history import FaultRecord, Header, History


def read_jepsen_edn(path: str, source: Source | None = None, initial: object = 0) -> History:
    text = read_text(path, source)
    try:
        data = edn.loads(text)
    except edn.DecodeError as exc:
        raise HistoryError(path, None, f"not valid EDN: {exc}") from None
    if not isinstance(data, list):
        raise HistoryError(path, 1, "expected an EDN vector of operation maps")
    pairer = OpPairer(path, partial(register_convert, knossos=True))
    faults: list[FaultRecord] = []
    open_fault: int | None = None
    for index, ev in enumerate(data, start=1):
        if not isinstance(ev, dict):
            raise HistoryError(path, None, f"element {index} is not a map")
        try:
            process, typ, f = ev["process"], ev["type"], ev["f"]
        except KeyError as exc:
            raise HistoryError(path, None, f"element {index} lacks {exc.args[0]!r}") from None
        if process == "nemesis":
            if f == "start" and open_fault is None:
                open_fault = len(faults)
                faults.append(FaultRecord(id=open_fault, phase="start", kind="nemesis", time=index))
            elif f == "stop" and open_fault is not None:
                faults.append(FaultRecord(id=open_fault, phase="end", kind="nemesis", time=index))
                open_fault = None
            continue
        pairer.event(index, index, process, typ, f, ev.get("value"))
    ops = pairer.finish()
    header = Header(
        model="cas-register", model_options={"initial": initial}, source=path, scenario="jepsen-edn"
    )
    return History(header=header, ops=ops, faults=faults, finished=True, path=path)
