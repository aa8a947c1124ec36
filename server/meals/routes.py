from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from server.auth.dependencies import MealFlagReader
from server.db import SessionDep
from server.errors import responses
from server.meals import service
from server.meals.schemas import MealFlagOut
from server.months import MonthQuery

router = APIRouter(tags=["meals"])


@router.get("/meal-flags", response_model=list[MealFlagOut], responses=responses(401, 403, 404, 422))
def list_meal_flags(
    *,
    actor: MealFlagReader,
    session: SessionDep,
    canteen_id: uuid.UUID | None = None,
    month: MonthQuery | None = None,
    code: Annotated[str | None, Query(max_length=32)] = None,
    include_resolved: bool = False,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 200,
    after_id: Annotated[int | None, Query(ge=0)] = None,
) -> list[MealFlagOut]:
    """Flags intake put on meals, with reasons in Chinese and English (bureau staff; a canteen manager sees
    only their canteen). Page with ``after_id`` = the last ``id`` received."""
    return service.list_flags(
        session,
        actor=actor,
        canteen_id=canteen_id,
        month=month,
        code=code,
        include_resolved=include_resolved,
        limit=limit,
        after_id=after_id,
    )
