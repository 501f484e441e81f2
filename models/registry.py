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
    """The model called ``name``, configured by ``options`` (SchemaError if they do not fit)."""
    if name == "cas-register":
        return CasRegister.from_options(options or {})
    if name == "kv":
        return KeyValue.from_options(options or {})
    if name == "etcd":
        from models.etcd.model import EtcdModel

        return EtcdModel.from_options(options or {})
    raise UnknownModel(f"unknown model {name!r} (known: {', '.join(MODELS)})")
