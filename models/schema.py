"""What a well-formed operation looks like, per model: the edge of the checkers.

Every operation is validated against its model's schema while its history is read, so
the checkers only ever see operations they understand; anything else is bad input (one
line naming file, line and field, exit 2), never a crash or a verdict. The schemas are
msgspec types (``msgspec.convert`` of the decoded dicts), chosen over pydantic because
the history records already are msgspec structs and a 200k-operation history must be
read in seconds: msgspec validates a record in a few microseconds, pydantic several
times slower. Inputs reject unknown fields, since a field the model does not know may
change what a request means (``sort_order``, ``ignore_value``); outputs accept them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, NamedTuple

import msgspec

MAX_INT64 = (1 << 63) - 1
MIN_INT64 = -(1 << 63)

#: etcd's integers are 64-bit; a history with larger ones was not recorded from etcd.
Int64 = Annotated[int, msgspec.Meta(ge=MIN_INT64, le=MAX_INT64)]
NonNegative = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT64)]
#: A register's value: anything a JSON scalar holds (hashable, as the search needs).
Scalar = int | float | str | bool | None


class SchemaError(ValueError):
    """An operation, or model options, that do not fit the model; says where and why."""


class OpSchema(NamedTuple):
    """The input of one operation kind, and its output when its status is ``ok``:
    ``output``, or ``error`` when the output has an ``error`` field (a definite error
    the model predicts)."""

    input: Any
    output: Any
    error: Any = None


class NoOptions(msgspec.Struct, forbid_unknown_fields=True):
    """Models without options."""


def validate_operation(model_name: str, schemas: Mapping[str, OpSchema], op: Any) -> None:
    """Raise :class:`SchemaError` unless ``op`` (an OpRecord or Operation) fits the model:
    its input always, its output when its status is ``ok`` (otherwise it is ignored)."""
    inp = op.input
    kind = inp.get("kind") if isinstance(inp, dict) else None
    schema = schemas.get(kind) if isinstance(kind, str) else None
    if schema is None:
        known = ", ".join(sorted(schemas))
        shown = f"kind {kind!r}" if isinstance(kind, str) else "an input without a kind"
        raise SchemaError(
            f"op {op.id}: {shown} is not an operation of the {model_name} model (it knows: {known})"
        )
    _convert(op.input, schema.input, f"op {op.id} ({kind}) does not fit the {model_name} model", "input")
    if op.status == "ok":
        out = op.output
        shape = (
            schema.error
            if schema.error is not None and isinstance(out, dict) and "error" in out
            else schema.output
        )
        _convert(out, shape, f"op {op.id} ({kind}): its output does not fit the {model_name} model", "output")


def _convert(value: Any, schema: Any, what: str, root: str) -> Any:
    try:
        return msgspec.convert(value, schema)
    except msgspec.ValidationError as exc:
        text = str(exc)
        where = text.replace("`$", f"`{root}") if "`$" in text else f"{text} - at `{root}`"
        raise SchemaError(f"{what}: {where}") from None
    except RecursionError:
        raise SchemaError(f"{what}: {root} nested too deeply") from None


def validate_options(model_name: str, schema: Any, options: Any) -> Any:
    """The model's options as ``schema`` (a msgspec struct), or :class:`SchemaError`."""
    return _convert(
        options or {}, schema, f"model options do not fit the {model_name} model", "model_options"
    )
