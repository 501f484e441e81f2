from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main


def test_report_of_a_violation_exits_1_and_explains(
    capsys: pytest.CaptureFixture[str], shared_histories: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.html"
    code = main(["report", str(shared_histories / "jepsen-edn/cas-failure.edn"), "-o", str(out)])
    text = capsys.readouterr().out
    assert code == 1 and "cannot follow state value=2" in text and f"report: {out}" in text
    assert 'data-violation-op="244"' in out.read_text()


def test_report_without_check(
    capsys: pytest.CaptureFixture[str], shared_histories: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.html"
    code = main(
        [
            "report",
            str(shared_histories / "porcupine-kv/c01-bad.txt"),
            "--no-check",
            "--no-plots",
            "-o",
            str(out),
        ]
    )
    assert code == 0 and 'data-verdict="not checked"' in out.read_text()


def test_report_bad_input_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = tmp_path / "x.txt"
    p.write_text("garbage\n")
    assert main(["report", str(p), "-o", str(tmp_path / "r.html")]) == 2
    assert "unrecognized history format" in capsys.readouterr().err
