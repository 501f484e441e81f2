"""EDN parsing through edn_format, with keywords turned into plain strings."""

from __future__ import annotations

from typing import Any

import edn_format
from edn_format import Keyword


def plain(value: Any) -> Any:
    """Keywords become their names, maps become dicts, vectors and lists become lists.

    Raises ValueError for a map key that cannot be a dict key once plain (a vector).
    """
    if isinstance(value, Keyword):
        return value.name
    if isinstance(value, dict) or hasattr(value, "items"):
        out = {}
        for k, v in value.items():
            key = plain(k)
            if isinstance(key, list | dict | set):
                raise ValueError(f"a map key that is not a scalar: {key!r:.60}")
            out[key] = plain(v)
        return out
    if isinstance(value, list | tuple) or type(value).__name__ in ("ImmutableList",):
        return [plain(v) for v in value]
    return value


class DecodeError(ValueError):
    """The text is not EDN, or not EDN these importers can use."""


def loads(text: str) -> Any:
    """Parse and make plain; every failure is a DecodeError.

    edn_format's parser raises more than its EDNDecodeError on malformed input
    (IndexError, KeyError, TypeError from its grammar actions), so this is the one place
    that catches broadly: whatever it raises here means the input is not usable EDN.
    """
    try:
        return plain(edn_format.loads(text))
    except RecursionError:
        raise DecodeError("nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - see the docstring
        raise DecodeError(str(exc) or type(exc).__name__) from None
