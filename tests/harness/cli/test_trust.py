"""Every way a user was seen to get a false pass, a traceback, or a verdict for bad input:
each now ends with its exit code and one line that says what is wrong.

0 pass, 1 violation, 2 bad input or environment, 3 unknown, 4 internal error.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from tests.common.shared import HISTORIES

ETCD = "/usr/bin/etcd"
HEADER = {"type": "header", "format": "etcd-harness-history", "version": 1, "model": "etcd"}
PUT = {"kind": "put", "key": "a", "value": "1", "lease": 0, "prev_kv": False}


def op(i: int, input: Any, output: Any, status: str = "ok") -> dict[str, Any]:
    rec = {"type": "op", "id": i, "client": i, "call": 10 * i + 1, "input": input, "status": status}
    if status == "ok":
        rec |= {"return": 10 * i + 5, "output": output}
    return rec


def write(path: Path, *records: Any) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert "Traceback" not in captured.err + captured.out
    return code, err[-1] if err else ""


GOOD_PUT = op(0, PUT, {"header": {"revision": 2}, "prev_kv": None})


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([HEADER, op(0, PUT, {"header": []})], "h.jsonl:2: op 0 (put): its output does not fit the etcd model: Expected `object`, got `array` - at `output.header`"),
        ([HEADER, op(0, {"kind": "range", "key": "a", "revision": "abc"}, None, "fail")], "h.jsonl:2: op 0 (range) does not fit the etcd model: Expected `int`, got `str` - at `input.revision`"),
        ([HEADER, op(0, {"kind": "range", "key": "a"}, {"header": {"revision": 1}, "kvs": [5]})], "Expected `object`, got `int` - at `output.kvs[0]`"),
        ([HEADER, op(0, {"kind": "put", "value": "1"}, None, "unknown")], "Object missing required field `key` - at `input`"),
        ([HEADER, op(0, {"kind": "put", "key": ["a"], "value": "1"}, None, "unknown")], "Expected `str`, got `array` - at `input.key`"),
        ([HEADER, op(0, {"kind": "bogus"}, None, "unknown")], "kind 'bogus' is not an operation of the etcd model"),
        ([HEADER, op(0, {}, None, "unknown")], "an input without a kind is not an operation of the etcd model"),
        ([HEADER, op(0, {"kind": "range", "key": "a", "sort_order": 1}, None, "fail")], "Expected `str`, got `int` - at `input.sort_order`"),
        ([HEADER, op(0, {"kind": "put", "key": "a", "value": "1", "ignore_value": True}, None, "fail")], "unknown field `ignore_value`"),
        ([HEADER, op(0, {"kind": "range", "key": "a", "limit": 1, "sort_target": "mod"}, None, "fail")], "cannot have a limit"),
        ([HEADER | {"model_options": {"initial": 1}}, GOOD_PUT], "h.jsonl:1: model options do not fit the etcd model: Object contains unknown field `initial`"),
        ([HEADER | {"model": "cas-register", "model_options": {"initial": [1]}}], "model options do not fit the cas-register model"),
        ([HEADER | {"model": "nope"}, GOOD_PUT], "unknown model 'nope'"),
        ([{"type": "header", "format": "etcd-harness-history", "version": 1, "cluster": []}], "h.jsonl:1: invalid record: Expected `object`, got `array` - at `$.cluster`"),
        ([HEADER, op(0, PUT, None, "ok") | {"return": 3, "call": 5}], "returns before its call"),
        ([HEADER, op(0, PUT, None, "unknown") | {"call": 2**64}], "h.jsonl:2: invalid record"),
    ],
)  # fmt: skip
def test_malformed_jsonl_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], records: list[Any], message: str
) -> None:
    code, line = one_line(capsys, ["check", str(write(tmp_path / "h.jsonl", *records))])
    assert code == 2 and line.startswith("etcd-harness: error: ") and message in line, line


def test_register_histories_do_not_fit_the_etcd_model(capsys: pytest.CaptureFixture[str]) -> None:
    if not HISTORIES.exists():
        pytest.skip("../shared/histories is not beside the project")
    for name in ("jepsen-edn/cas-failure.edn", "porcupine-etcd/etcd_000.log"):
        code, line = one_line(capsys, ["check", "--model", "etcd", str(HISTORIES / name)])
        assert code == 2, line
        assert "written for the cas-register model, not etcd: op 0: kind 'read'" in line


def test_an_edn_map_keyed_by_a_vector_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "h.edn"
    p.write_text("[{:process 0, :type :invoke, :f :read, [1 2] 3}]")
    code, line = one_line(capsys, ["check", str(p)])
    assert code == 2 and "not valid EDN: a map key that is not a scalar" in line, line


def test_a_register_value_that_is_a_list_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "h.edn"
    p.write_text(
        "[{:process 0, :type :invoke, :f :write, :value [1 2]} {:process 0, :type :ok, :f :write, :value [1 2]}]"
    )
    code, line = one_line(capsys, ["check", str(p)])
    assert (
        code == 2 and "Expected `bool | int | float | str | null`, got `array` - at `input.value`" in line
    ), line


def test_nul_bytes_after_the_header(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A gigabyte of NUL bytes is refused without being loaded; a short NUL tail (what a
    crash leaves) is skipped, and a history with no operation does not pass."""
    big = tmp_path / "big.jsonl"
    big.write_text(json.dumps(HEADER) + "\n")
    with open(big, "r+b") as f:
        f.truncate(1 << 30)
    started = time.monotonic()
    code, line = one_line(capsys, ["check", str(big)])
    assert code == 2 and "a line longer than 64 MiB: not a history" in line
    assert time.monotonic() - started < 10
    small = tmp_path / "small.jsonl"
    small.write_bytes(json.dumps(HEADER).encode() + b"\n" + b"\0" * 4096)
    code = main(["check", str(small)])
    out = capsys.readouterr()
    assert code == 3 and "nothing to check" in out.out and "ends in NUL bytes" in out.err


class _FastClock:
    """The loader's clock, 50 ms further on at every look: reading always outlasts the
    budget, however fast this machine reads."""

    def __init__(self) -> None:
        self.looks = 0

    def monotonic(self) -> float:
        self.looks += 1
        return time.monotonic() + 0.05 * self.looks


def test_loading_is_under_the_time_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.history.jsonl as jsonl

    path = tmp_path / "long.jsonl"
    with open(path, "w") as f:
        f.write(json.dumps(HEADER) + "\n")
        for i in range(50_000):
            f.write(json.dumps(op(i, PUT | {"value": str(i)}, None, "unknown")) + "\n")
    monkeypatch.setattr(jsonl, "time", _FastClock())
    started = time.monotonic()
    code = main(["check", "--timeout", "0.3", str(path)])
    out = capsys.readouterr().out
    assert code == 3 and "time budget of 0.3 s ran out while reading" in out, out
    line = int(out.rsplit("(line ", 1)[1].split(")")[0])
    assert line < 50_000 and line % jsonl._CLOCK_EVERY == 0, out
    assert time.monotonic() - started < 3


def test_standard_input_is_read(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    data = "".join(json.dumps(r) + "\n" for r in (HEADER, GOOD_PUT)).encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["check", "-"]) == 0
    assert capsys.readouterr().out.startswith("-: ok (1 ops")


def test_a_checker_crash_is_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("models.etcd.check_history", boom)
    code, line = one_line(capsys, ["check", str(write(tmp_path / "h.jsonl", HEADER, GOOD_PUT))])
    assert code == 4
    assert "etcd-harness: internal error (a bug in etcd-harness): ZeroDivisionError: division by zero" in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "smoke", "--members", "0"], "--members must be between 1 and 9, not 0"),
        (["run", "smoke", "--members", "-1"], "--members must be between 1 and 9, not -1"),
        (["run", "smoke", "--duration", "0"], "--duration must be a positive number of seconds, not 0"),
        (["run", "smoke", "--qps", "-5"], "--qps must be positive (0: unthrottled), not -5"),
        (["run", "smoke", "--workers", "0"], "--workers must be between 1 and 16, not 0"),
        (["run", "smoke", "--auth", "--workers", "2"], "--workers with --auth is not supported"),
        (["run", "smoke", "--endpoints", ","], "--endpoints needs at least one URL (http://HOST:PORT)"),
        (["run", "smoke", "--endpoints", "127.0.0.1"], "bad endpoint '127.0.0.1': want http://HOST:PORT"),
        (["run", "smoke", "--check-timeout", "-1"], "--check-timeout must be a positive number of seconds"),
        (["run", "smoke", "--endpoints", "http://127.0.0.1:1", "--out", "/proc/etcd-harness"], "cannot write to /proc/etcd-harness"),
        (["run", "smoke", "--endpoints", "http://127.0.0.1:1"], "cannot reach http://127.0.0.1:1"),
        (["matrix", "--versions", "9.9.9", "--budget", "60"], "etcd 9.9.9 is not installed and cannot be fetched"),
        (["matrix", "--budget", "0"], "--budget must be a positive number of seconds"),
        (["check", "--timeout", "0", "x"], "--timeout must be a positive number of seconds"),
    ],
)  # fmt: skip
def test_bad_run_arguments_are_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    code, line = one_line(capsys, argv)
    assert code == 2 and line.startswith("etcd-harness: error: ") and message in line, line
    assert time.monotonic() - started < 20, "refused before anything runs"
    assert not (tmp_path / "runs").exists() or "cannot reach" in message


@pytest.mark.skipif(not os.path.exists(ETCD), reason="etcd 3.4 (Debian's etcd-server) not installed")
def test_no_free_ports_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("harness.cluster.ports.port_is_free", lambda port, host="127.0.0.1": False)
    argv = ["run", "smoke", "--no-netns", "--etcd", ETCD, "--out", str(tmp_path / "run"), "--no-progress"]
    code, line = one_line(capsys, argv)
    assert code == 2 and "could not find 6 free ports on 127.0.0.1" in line, line


def test_cut_refuses_its_input_and_a_missing_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = write(tmp_path / "h.jsonl", HEADER, GOOD_PUT)
    before = h.read_bytes()
    code, line = one_line(capsys, ["cut", str(h), "-o", str(h), "--until", "1"])
    assert code == 2 and "refusing to overwrite the history being cut" in line
    assert h.read_bytes() == before
    code, line = one_line(capsys, ["cut", str(h), "-o", str(tmp_path / "no" / "h.xz"), "--until", "1"])
    assert code == 2 and f"cannot write {tmp_path / 'no' / 'h.xz'}: no directory" in line


def test_a_parser_excerpt_with_newlines_is_still_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the byte-mutation fuzzer: the EDN lexer quotes the input around the bad
    character, newlines included."""
    p = tmp_path / "h.edn"
    p.write_text('[type":"a","b":1}\n{"c":2}\n')
    code, line = one_line(capsys, ["check", str(p)])
    assert code == 2 and "not valid EDN: Illegal character" in line, line
