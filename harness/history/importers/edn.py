"""EDN parsing through edn_format, with keywords turned into plain strings."""

from __future__ import annotations

from typing import Any

import edn_format
from edn_format import Keyword


def plain(value: Any) -> Any:
    """Keywords become their names, maps become dicts, vectors and lists become lists."""
    if isinstance(value, Keyword):
        return value.name
    if isinstance(value, dict) or hasattr(value, "items"):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple) or type(value).__name__ in ("ImmutableList",):
        return [plain(v) for v in value]
    return value


def loads(text: str) -> Any:
    return edn_format.loads(text)


DecodeError = edn_format.EDNDecodeError
