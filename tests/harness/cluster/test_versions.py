"""Which version changes a plan may ask for, decided before anything starts, and how
per-member build lists are read."""

from __future__ import annotations

import pytest

from harness.cluster.versions import UpgradeStep, check_version_changes, member_count, resolve_members
from harness.errors import UsageError


def test_a_rolling_upgrade_to_the_next_minor_is_accepted() -> None:
    check_version_changes(["3.4.23"] * 3, [UpgradeStep("next", "3.5.1")] * 4)


def test_a_patch_downgrade_within_a_minor_is_accepted() -> None:
    check_version_changes(["3.5.1"] * 3, [UpgradeStep("next", "3.5.0")] * 3)


def test_going_back_while_some_member_still_runs_the_older_minor_is_accepted() -> None:
    check_version_changes(
        ["3.4.23"] * 3, [UpgradeStep("m0", "3.5.1"), UpgradeStep("m1", "3.5.1"), UpgradeStep("m0", "3.4.23")]
    )


def test_a_downgrade_after_the_whole_cluster_moved_up_is_refused_up_front() -> None:
    steps = [UpgradeStep("next", "3.5.1")] * 3 + [UpgradeStep("m1", "3.4.23")]
    with pytest.raises(UsageError, match="cluster version is 3.5 by then.*downgrade API"):
        check_version_changes(["3.4.23"] * 3, steps)


def test_a_3_5_cluster_never_takes_a_3_4_member() -> None:
    with pytest.raises(UsageError, match="back to 3.4"):
        check_version_changes(["3.5.1"] * 3, [UpgradeStep("next", "3.4.23")])


def test_builds_two_minors_apart_are_refused() -> None:
    with pytest.raises(UsageError, match="two adjacent minor versions"):
        check_version_changes(["3.4.23", "3.6.0", "3.6.0"], [])
    with pytest.raises(UsageError, match="two adjacent minor versions"):
        check_version_changes(["3.4.23"] * 3, [UpgradeStep("m0", "3.6.0")])


def test_upgrade_targets_are_next_or_a_member() -> None:
    with pytest.raises(UsageError, match="want 'next' or a member name m0..m2"):
        check_version_changes(["3.4.23"] * 3, [UpgradeStep("leader", "3.5.1")])
    with pytest.raises(UsageError, match="m0..m2"):
        check_version_changes(["3.4.23"] * 3, [UpgradeStep("m3", "3.5.1")])


def test_a_version_without_major_and_minor_is_one_clear_error() -> None:
    with pytest.raises(UsageError, match="major.minor"):
        check_version_changes(["3.4.23"], [UpgradeStep("next", "latest")])


def test_a_list_names_one_build_per_member() -> None:
    assert member_count("3.4.23,3.5.1,3.5.1", None) == 3
    assert member_count("3.5.1", None) is None
    assert member_count(None, "/a/etcd, /b/etcd") == 2
    with pytest.raises(UsageError, match="--etcd-version lists 2 builds for 3 members"):
        resolve_members("3.4.23,3.5.1", None, 3)
    with pytest.raises(UsageError, match="--etcd lists 2 builds for 5 members"):
        resolve_members(None, "/usr/bin/etcd,/usr/bin/etcd", 5)
