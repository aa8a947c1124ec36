"""Field-level messages in Chinese and English for validation errors (rule sets here; API bodies later)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from ruyi.errors import Problem

# zh templates for pydantic's error types; placeholders come from the error's ctx.
_ZH: dict[str, str] = {
    "missing": "缺少必填项",
    "extra_forbidden": "未知字段（请检查拼写）",
    "literal_error": "取值必须是 {expected} 之一",
    "enum": "取值必须是 {expected} 之一",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "string_type": "应为文本",
    "string_pattern_mismatch": "格式不正确（应匹配 {pattern}）",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "date_type": "应为日期（YYYY-MM-DD）",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_inexact": "应为日期（不含时间）",
    "datetime_type": "应为带时区的时间",
    "datetime_parsing": "应为带时区的时间",
    "timezone_aware": "时间必须带时区",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "dict_type": "应为键值对象",
    "model_type": "应为键值对象",
    "model_attributes_type": "应为键值对象",
    "list_type": "应为列表",
    "tuple_type": "应为列表",
    "uuid_type": "应为 UUID",
    "uuid_parsing": "应为 UUID",
    "json_invalid": "不是有效的 JSON",
}


def bilingual_error(code: str, zh: str, en: str) -> PydanticCustomError:
    """An error to raise inside a pydantic validator that keeps both languages for :func:`problems_from`."""
    return PydanticCustomError(code, "{en}", {"en": en, "zh": zh})


def field_path(loc: Sequence[int | str]) -> str:
    """('versions', 1, 'tiers', 0, 'min_spend') -> 'versions[1].tiers[0].min_spend'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def problem_from(err: ErrorDetails, *, prefix: Sequence[int | str] = ()) -> Problem:
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    en = err["msg"]
    if "zh" in ctx and "en" in ctx:
        zh, en = str(ctx["zh"]), str(ctx["en"])
    else:
        template = _ZH.get(err["type"])
        try:
            zh = template.format(**ctx) if template else en
        except (KeyError, IndexError):
            zh = en
    return Problem(path=field_path([*prefix, *err["loc"]]), code=err["type"], zh=zh, en=en)


def problems_from(exc: ValidationError, *, prefix: Sequence[int | str] = ()) -> list[Problem]:
    """Every error, except a length complaint about a list whose own items were already refused (pydantic
    counts only the valid items, so one bad slot would also read as "the list is empty")."""
    errors = exc.errors(include_url=False)
    locs = [tuple(e["loc"]) for e in errors]

    def echoes_a_child(err: ErrorDetails) -> bool:
        loc = tuple(err["loc"])
        return err["type"] in {"too_short", "too_long"} and any(
            len(other) > len(loc) and other[: len(loc)] == loc for other in locs
        )

    return [problem_from(e, prefix=prefix) for e in errors if not echoes_a_child(e)]


def render(problems: Iterable[Problem], lang: str = "zh") -> str:
    return "\n".join(p.message(lang) for p in problems)
