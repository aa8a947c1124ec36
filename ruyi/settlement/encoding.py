"""The statement's canonical bytes and content hash, their decoder, and closing: closing stores
:func:`statement_hash`, and a closed statement is only ever compared with it again, so these bytes must never change
for a given statement. A stored statement is trusted only when :func:`decode_statement` of its bytes, encoded again,
gives the very bytes stored, and those hash to the hash stored at close.
"""

from __future__ import annotations

import hashlib
import json
import typing
from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Literal, get_args, get_origin

from ruyi.errors import Problem
from ruyi.settlement.model import CheckResult, CloseVerdict, Month, Ratio, Statement


def can_close(checks: Iterable[CheckResult], notes: Mapping[str, str]) -> CloseVerdict:
    """Whether a month may close: no error check, and a non-blank note (by check key) for every warning."""
    checks = list(checks)
    errors = tuple(c for c in checks if c.severity == "error")
    unnoted = tuple(c for c in checks if c.severity == "warning" and not notes.get(c.key, "").strip())
    problems = [
        Problem(c.key, c.code, f"错误未解决，不能关账：{c.zh}", f"unresolved error blocks closing: {c.en}")
        for c in errors
    ] + [Problem(c.key, c.code, f"警告须填写说明：{c.zh}", f"a warning needs a note: {c.en}") for c in unnoted]
    return CloseVerdict(not errors and not unnoted, errors, unnoted, tuple(problems))


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, Month):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Ratio):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__} canonically (floats are refused)")


def canonical_json(value: Any) -> bytes:
    """Compact JSON, keys sorted, UTF-8 without escapes, integers for money, ISO dates, ``YYYY-MM`` months,
    ratios as ``"n/d"``; a float raises."""
    return json.dumps(
        _plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def statement_bytes(statement: Statement) -> bytes:
    return canonical_json(statement)


def statement_hash(statement: Statement) -> str:
    """sha256 (lower-case hex) of :func:`statement_bytes`: the content hash stored at close."""
    return hashlib.sha256(statement_bytes(statement)).hexdigest()


def verify_statement(statement: Statement, stored_hash: str) -> bool:
    """Whether a stored (closed) statement still has the hash recorded when it was closed."""
    return statement_hash(statement) == stored_hash


_UNION = type(int | None)
"""``X | None`` written in annotations (``types.UnionType``)."""


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(tp: Any, value: Any) -> Any:
    """``value`` (parsed canonical JSON) as type ``tp``, driven by the dataclasses' own type hints."""
    origin = get_origin(tp)
    if tp is Month:
        return Month.parse(value)
    if tp is date:
        return date.fromisoformat(value)
    if isinstance(tp, type) and is_dataclass(tp):
        hints = _hints(tp)
        if not isinstance(value, dict) or set(value) != {f.name for f in fields(tp)}:
            raise ValueError(f"{tp.__name__}: fields differ")
        return tp(**{f.name: _decode(hints[f.name], value[f.name]) for f in fields(tp)})
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        if len(args) != len(value):
            raise ValueError("tuple length differs")
        return tuple(_decode(a, v) for a, v in zip(args, value, strict=True))
    if origin in (typing.Union, _UNION):
        if value is None:
            return None
        (inner,) = [a for a in get_args(tp) if a is not type(None)]
        return _decode(inner, value)
    if origin is Literal:
        if value not in get_args(tp):
            raise ValueError(f"{value!r} is not one of {get_args(tp)}")
        return value
    if tp in (int, str, bool):
        if type(value) is not tp:
            raise ValueError(f"expected {tp.__name__}, got {type(value).__name__}")
        return value
    raise TypeError(f"cannot decode {tp!r}")


def decode_statement(data: bytes) -> Statement:
    """The statement whose canonical bytes are ``data`` (the inverse of :func:`statement_bytes`; raises
    ``ValueError`` on anything else)."""
    result = _decode(Statement, json.loads(data))
    if not isinstance(result, Statement):
        raise ValueError("not a statement")
    return result
