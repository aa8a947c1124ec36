from __future__ import annotations

from fastapi import APIRouter

from server.auth.dependencies import QuotePreviewer
from server.db import SessionDep
from server.errors import responses
from server.quotes import service
from server.quotes.schemas import QuoteOut, QuotePreviewIn

router = APIRouter(tags=["quotes"])


@router.post("/quotes/preview", response_model=QuoteOut, responses=responses(401, 403, 404, 422))
def preview_quote(body: QuotePreviewIn, actor: QuotePreviewer, session: SessionDep) -> QuoteOut:
    """What this elder would pay at this canteen for this menu item on this date, and why. Works for dates
    under a version not yet in force (preview a new rule set before it takes effect)."""
    return service.preview(session, actor=actor, **body.model_dump())
