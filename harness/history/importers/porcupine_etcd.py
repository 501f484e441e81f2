"""Porcupine's Jepsen etcd register logs (``INFO  jepsen.util - 2	:invoke	:cas	[3 0]``)."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from harness.history.errors import HistoryError
from harness.history.files import Source, read_text
from harness.history.importers.jepsen_ops import OpPairer, register_convert
from models.history import Header, History

_LINE = re.compile(r"jepsen\.util\s+-\s+(\S+)\s+:(\S+)\s+:(\S+)\s*(.*?)\s*$")
_CAS = re.compile(r"^\[\s*(\S+)\s+(\S+)\s*\]$")


def _value(text: str, path: str, line: int) -> Any:
    if text in ("nil", ""):
        return None
    if text.startswith(":"):
        return text  # e.g. :timed-out, only ever on failed or unknown calls
    m = _CAS.match(text)
    if m:
        return [_value(m.group(1), path, line), _value(m.group(2), path, line)]
    try:
        return int(text)
    except ValueError:
        raise HistoryError(path, line, f"cannot parse value {text!r}") from None


def read_porcupine_etcd(path: str, source: Source | None = None) -> History:
    lines = read_text(path, source).splitlines()
    pairer = OpPairer(path, partial(register_convert, knossos=False))
    for lineno, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        m = _LINE.search(text)
        if m is None:
            raise HistoryError(path, lineno, "not a jepsen.util event line")
        proc_s, typ, f, rest = m.groups()
        try:
            process: Any = int(proc_s)
        except ValueError:
            process = proc_s
        pairer.event(lineno, lineno, process, typ, f, _value(rest, path, lineno))
    ops = pairer.finish()
    header = Header(
        model="cas-register", model_options={"initial": None}, source=path, scenario="porcupine-etcd"
    )
    return History(header=header, ops=ops, finished=True, path=path)
