from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_ok_file_exits_0(capsys: pytest.CaptureFixture[str], shared_histories: Path) -> None:
    code, out, _ = run(capsys, "check", str(shared_histories / "porcupine-etcd/etcd_100.log"))
    assert code == 0 and ": ok (" in out


def test_violation_exits_1_and_explains(capsys: pytest.CaptureFixture[str], shared_histories: Path) -> None:
    code, out, _ = run(capsys, "check", str(shared_histories / "jepsen-edn/cas-failure.edn"))
    assert code == 1
    assert "not linearizable" in out and "cannot follow state" in out


def test_json_lines_per_file(capsys: pytest.CaptureFixture[str], shared_histories: Path) -> None:
    files = [
        str(shared_histories / "porcupine-kv/c01-ok.txt"),
        str(shared_histories / "porcupine-kv/c01-bad.txt"),
    ]
    code, out, _ = run(capsys, "check", "--json", *files)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [r["verdict"] for r in rows] == ["ok", "illegal"]
    assert all({"path", "verdict", "ops", "elapsed_ms"} <= r.keys() for r in rows)


def test_budget_exhausted_exits_3(capsys: pytest.CaptureFixture[str], shared_histories: Path) -> None:
    code, out, _ = run(
        capsys, "check", "--max-states", "10", str(shared_histories / "porcupine-etcd/etcd_002.log")
    )
    assert code == 3 and "unknown" in out


def test_initial_value_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = tmp_path / "h.edn"
    p.write_text(
        "[{:process 0, :type :invoke, :f :read, :value nil} {:process 0, :type :ok, :f :read, :value 5}]"
    )
    assert run(capsys, "check", str(p))[0] == 1
    assert run(capsys, "check", "--initial", "5", str(p))[0] == 0


def test_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text(
        '{"type":"header","format":"etcd-harness-history","version":1}\n{"type":"op",\n{"type":"end","time":1}\n'
    )
    code, _, err = run(capsys, "check", str(p))
    assert code == 2
    assert err.strip().count("\n") == 0 and f"{p}:2" in err and "Traceback" not in err


def test_missing_file_and_usage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "check", str(tmp_path / "nope"))
    assert code == 2 and "cannot read" in err
    with pytest.raises(SystemExit) as exc:
        main(["check", "--format", "xml", "x"])
    assert exc.value.code == 2


def test_summary_table_for_several_files(capsys: pytest.CaptureFixture[str], shared_histories: Path) -> None:
    files = sorted(str(p) for p in (shared_histories / "porcupine-etcd").glob("*.log"))
    code, out, _ = run(capsys, "check", *files)
    assert code == 1
    assert f"{len(files)} files:" in out and "illegal" in out
