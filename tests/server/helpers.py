"""Small builders shared by the server tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from ruyi.idnum import Sex, make_resident_id
from tests.server.conftest import Api

ROOT = Path(__file__).resolve().parents[2]
CITY_RULES = (ROOT / "deploy" / "rules" / "ruyi-city.yaml").read_text(encoding="utf-8")


def id_number(n: int = 1, *, born: date = date(1950, 3, 1), sex: Sex = Sex.MALE, region: str = "320102") -> str:
    return make_resident_id(region, born, n % 100, sex)


def upload_city_rules(api: Api) -> dict[str, Any]:
    result: dict[str, Any] = api.ok("POST", "/api/v1/rulebooks", api.admin, json={"source": CITY_RULES})
    return result


def canteen(api: Api, code: str = "ry-01", name: str = "如意食堂一号店") -> dict[str, Any]:
    body = {"code": code, "name": name, "programme": "ruyi-city", "address": "鼓楼区"}
    result: dict[str, Any] = api.ok("POST", "/api/v1/canteens", api.admin, 201, json=body)
    return result


def elder(api: Api, n: int = 1, **extra: Any) -> dict[str, Any]:
    body = {"name": "张三丰", "id_number": id_number(n), "community": "湖南路社区", **extra}
    result: dict[str, Any] = api.ok("POST", "/api/v1/elders", api.operator, 201, json=body)
    return result
