"""The cluster version check on hand-built samples: an upgrade that moves it forward
passes; going back within one life of a member, or past a member still on the older
build, is caught; a restart in between forgives an older membership snapshot."""

from __future__ import annotations

from models.etcd.cluster_version import check_cluster_versions
from models.history import FaultRecord, Header, StatusRecord

S = 1_000_000_000
URLS = [f"http://10.0.0.{i}:2379" for i in range(3)]


def header(*versions: str) -> Header:
    members = [{"name": f"m{i}", "client_url": URLS[i], "version": v} for i, v in enumerate(versions)]
    return Header(cluster={"members": members})


def sample(t: float, i: int, cluster: str, server: str = "") -> StatusRecord:
    return StatusRecord(time=int(t * S), member=URLS[i], server_version=server, cluster_version=cluster)


def upgrade(fid: int, start: float, end: float, member: int, was: str, to: str) -> list[FaultRecord]:
    detail = {"member": f"m{member}", "from": was, "to": to}
    return [
        FaultRecord(id=fid, phase=p, kind="upgrade", time=int(t * S), targets=[f"m{member}"], detail=detail)
        for p, t in (("start", start), ("end", end))
    ]


def rolling() -> list[FaultRecord]:
    return [*upgrade(1, 1, 2, 0, "3.4.23", "3.5.1"), *upgrade(2, 3, 4, 1, "3.4.23", "3.5.1")] + upgrade(
        3, 5, 6, 2, "3.4.23", "3.5.1"
    )


def test_a_rolling_upgrade_that_raises_the_version_at_the_end_passes() -> None:
    samples = [sample(t, i, "3.4.0") for t in (0.5, 2.5, 4.5) for i in range(3)]
    samples += [sample(7, i, "3.5.0") for i in range(3)]
    samples.append(sample(5.5, 2, "not_decided"))
    assert check_cluster_versions(header("3.4.23", "3.4.23", "3.4.23"), samples, rolling()) == []


def test_a_version_raised_while_a_member_still_runs_the_old_build_is_caught() -> None:
    samples = [sample(0.5, 0, "3.4.0"), sample(4.5, 1, "3.5.0")]
    found = check_cluster_versions(header("3.4.23", "3.4.23", "3.4.23"), samples, rolling())
    assert [a.kind for a in found] == ["cluster-version"]
    assert "m2 still ran a 3.4 build" in found[0].message


def test_during_the_last_upgrade_the_member_may_already_run_the_new_build() -> None:
    samples = [sample(5.8, 0, "3.5.0")]
    assert check_cluster_versions(header("3.4.23", "3.4.23", "3.4.23"), samples, rolling()) == []


def test_a_version_that_goes_back_within_one_life_is_caught() -> None:
    samples = [sample(7, 1, "3.5.0"), sample(8, 1, "3.4.0")]
    found = check_cluster_versions(header("3.4.23", "3.4.23", "3.4.23"), samples, rolling())
    assert [a.kind for a in found] == ["cluster-version"]
    assert "went back" in found[0].message and found[0].members == ["m1"]


def test_a_restart_between_two_samples_forgives_an_older_snapshot() -> None:
    kill = [
        FaultRecord(id=9, phase="start", kind="kill", time=int(7.5 * S), targets=["m1"]),
        FaultRecord(id=9, phase="end", kind="kill", time=int(7.7 * S), targets=["m1"]),
    ]
    samples = [sample(7, 1, "3.5.0"), sample(8, 1, "3.4.0")]
    assert check_cluster_versions(header("3.4.23", "3.4.23", "3.4.23"), samples, rolling() + kill) == []


def test_a_mixed_cluster_never_reaches_the_newer_minor() -> None:
    h = header("3.4.23", "3.5.1", "3.5.1")
    assert check_cluster_versions(h, [sample(1, i, "3.4.0") for i in range(3)], []) == []
    found = check_cluster_versions(h, [sample(1, 2, "3.5.0")], [])
    assert [a.kind for a in found] == ["cluster-version"] and "m0" in found[0].members


def test_histories_without_version_samples_are_not_judged() -> None:
    assert (
        check_cluster_versions(header("3.4.23"), [StatusRecord(time=1, member=URLS[0], revision=3)], []) == []
    )
