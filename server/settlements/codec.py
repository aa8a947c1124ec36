"""Reading a closed statement back from its stored canonical bytes.

``ruyi.settlement.statement_bytes`` writes a :class:`~ruyi.settlement.Statement` as canonical JSON; this is the
inverse, driven by the dataclasses' own type hints. A stored statement is trusted only when decoding it and
encoding it again gives the very bytes stored, and those bytes hash to the hash stored at close.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import fields, is_dataclass
from datetime import date
from functools import cache
from typing import Any, Literal, get_args, get_origin

from ruyi.settlement import Month, Statement


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(tp: Any, value: Any) -> Any:
    origin = get_origin(tp)
    if tp is Month:
        return Month.parse(value)
    if tp is date:
        return date.fromisoformat(value)
    if isinstance(tp, type) and is_dataclass(tp):
        hints = _hints(tp)
        if not isinstance(value, dict) or set(value) != {f.name for f in fields(tp)}:
            raise ValueError(f"{tp.__name__}: fields differ")
        return tp(**{f.name: _build(hints[f.name], value[f.name]) for f in fields(tp)})
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_build(args[0], v) for v in value)
        if len(args) != len(value):
            raise ValueError("tuple length differs")
        return tuple(_build(a, v) for a, v in zip(args, value, strict=True))
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        (inner,) = [a for a in get_args(tp) if a is not type(None)]
        return _build(inner, value)
    if origin is Literal:
        if value not in get_args(tp):
            raise ValueError(f"{value!r} is not one of {get_args(tp)}")
        return value
    if tp in (int, str, bool):
        if type(value) is not tp:
            raise ValueError(f"expected {tp.__name__}, got {type(value).__name__}")
        return value
    raise TypeError(f"cannot decode {tp!r}")


def statement_from_bytes(data: bytes) -> Statement:
    """The statement whose canonical bytes are ``data`` (raises ``ValueError`` on anything else)."""
    result = _build(Statement, json.loads(data))
    assert isinstance(result, Statement)
    return result
