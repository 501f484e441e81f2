"""Models by name, for the CLI and history headers."""

from __future__ import annotations

from typing import Any

from models.kv import KeyValue
from models.model import Model
from models.register import CasRegister

MODELS = ("etcd", "cas-register", "kv")


class UnknownModel(ValueError):
    pass


def make_model(name: str, options: dict[str, Any] | None = None) -> Model:
    options = options or {}
    if name == "cas-register":
        return CasRegister(initial=options.get("initial"))
    if name == "kv":
        return KeyValue()
    if name == "etcd":
        from models.etcd.model import EtcdModel

        return EtcdModel()
    raise UnknownModel(f"unknown model {name!r} (known: {', '.join(MODELS)})")
