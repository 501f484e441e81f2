"""Every seeded bug class is caught by the check it targets, against a real etcd, and the
interposer alone (no bug) changes nothing the checks could see."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.cli import main
from harness.cluster.binaries import EtcdBinary
from harness.selftest.bugs import BUGS, check_of
from harness.selftest.run import run_one

ETCD = "/usr/bin/etcd"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists(ETCD), reason="etcd 3.4 (Debian's etcd-server) not installed"),
]


@pytest.mark.parametrize("bug", ["none", *BUGS])
def test_bug_class_is_caught_by_its_check(bug: str, tmp_path: Path) -> None:
    row = run_one(bug, binary=EtcdBinary(ETCD, "3.4.23"), out=tmp_path / bug, seed=1, duration=5.0)
    if bug == "none":
        assert row.verdict == "ok" and row.injected == 0, row.first
        return
    assert row.injected > 0, "the bug was never injected"
    assert row.verdict == "illegal", row
    assert BUGS[bug].check in row.checks, row


def test_check_names_cover_every_anomaly_kind() -> None:
    from models.anomaly import KINDS

    assert {check_of(k) for k in KINDS} == {
        "lost-write",
        "linearizability",
        "watch",
        "stale-read",
        "convergence",
        "lease-lifetime",
        "cluster-version",
        "auth",
    }


@pytest.mark.parametrize("bug", ["none", "lost-write", "watch-drop"])
def test_the_interposer_works_over_tls(bug: str, tmp_path: Path) -> None:
    """Before a TLS member the interposer speaks TLS on both sides, and bugs still show."""
    row = run_one(bug, binary=EtcdBinary(ETCD, "3.4.23"), out=tmp_path / bug, seed=1, duration=5.0, tls=True)
    if bug == "none":
        assert row.verdict == "ok" and row.injected == 0, row.first
        return
    assert row.injected > 0 and row.verdict == "illegal" and BUGS[bug].check in row.checks, row


@pytest.mark.parametrize("bug", ["none", "lost-write"])
def test_bugs_still_show_with_auth_and_tls_on(bug: str, tmp_path: Path) -> None:
    """With authentication on, traffic logs in through the interposer as the test user."""
    row = run_one(
        bug,
        binary=EtcdBinary(ETCD, "3.4.23"),
        out=tmp_path / bug,
        seed=1,
        duration=5.0,
        tls=True,
        auth_on=True,
    )
    if bug == "none":
        assert row.verdict == "ok" and row.injected == 0, row.first
        return
    assert row.injected > 0 and row.verdict == "illegal" and BUGS[bug].check in row.checks, row


def test_cli_table_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "selftest",
            "--bug",
            "none",
            "--bug",
            "watch-drop",
            "--etcd",
            ETCD,
            "--duration",
            "4",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 of 2 caught" in out
    assert "watch-drop" in out and "watch" in out


def test_unknown_bug_class_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["selftest", "--bug", "nope"]) == 2
    assert "unknown bug class 'nope'" in capsys.readouterr().err
