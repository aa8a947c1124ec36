from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from server.auth.dependencies import CardReader, CardWriter
from server.cards import service
from server.cards.schemas import CardBind, CardOut, CardRevoke
from server.db import SessionDep
from server.elders.schemas import CardKind
from server.errors import responses

router = APIRouter(tags=["cards"])


@router.post(
    "/elders/{elder_id}/cards", response_model=CardOut, status_code=201, responses=responses(401, 403, 404, 409, 422)
)
def bind_card(elder_id: uuid.UUID, body: CardBind, actor: CardWriter, session: SessionDep) -> CardOut:
    card = service.bind(
        session, actor=actor, elder_id=elder_id, kind=body.kind, serial=body.serial, bound_on=body.bound_on
    )
    session.commit()
    return service.card_out(card)


@router.get("/elders/{elder_id}/cards", response_model=list[CardOut], responses=responses(401, 403, 404))
def list_cards(elder_id: uuid.UUID, actor: CardReader, session: SessionDep) -> list[CardOut]:
    return [service.card_out(c) for c in service.cards_of(session, actor=actor, elder_id=elder_id)]


@router.get("/cards/lookup", response_model=CardOut, responses=responses(401, 403, 404, 422))
def lookup_card(
    kind: CardKind, serial: Annotated[str, Query(min_length=1, max_length=64)], actor: CardReader, session: SessionDep
) -> CardOut:
    """The active binding of a card, if any."""
    return service.card_out(service.lookup(session, actor=actor, kind=kind, serial=serial))


@router.get("/cards/{card_id}", response_model=CardOut, responses=responses(401, 403, 404))
def get_card(card_id: uuid.UUID, actor: CardReader, session: SessionDep) -> CardOut:
    return service.card_out(service.get_card(session, actor=actor, card_id=card_id))


@router.post("/cards/{card_id}/revoke", response_model=CardOut, responses=responses(401, 403, 404, 409, 422))
def revoke_card(card_id: uuid.UUID, body: CardRevoke, actor: CardWriter, session: SessionDep) -> CardOut:
    card = service.revoke(session, actor=actor, card_id=card_id, revoked_on=body.revoked_on, reason=body.reason)
    session.commit()
    return service.card_out(card)
