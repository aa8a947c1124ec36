"""``Annotated`` dependencies: who is asking, and may they."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from server.auth import service
from server.auth.principal import Perm, Principal
from server.config import Settings
from server.db import SessionDep
from server.errors import Forbidden, Unauthorized

bearer = HTTPBearer(auto_error=False, description="Session token, API token or terminal credential")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def current_principal(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("请先登录", "authentication required")
    return service.authenticate(session, token=credentials.credentials, pepper=settings.secret_key)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def current_staff(principal: CurrentPrincipal) -> Principal:
    if principal.kind != "staff":
        raise Forbidden("此操作仅限工作人员", "staff only")
    return principal


def current_terminal(principal: CurrentPrincipal) -> Principal:
    if principal.kind != "terminal":
        raise Forbidden("此操作仅限终端", "terminals only")
    return principal


CurrentStaff = Annotated[Principal, Depends(current_staff)]
CurrentTerminal = Annotated[Principal, Depends(current_terminal)]


def require(perm: Perm) -> Callable[[Principal], Principal]:
    """A dependency: any principal (staff or terminal) holding ``perm``."""

    def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.can(perm):
            raise Forbidden(f"无权执行此操作（需要 {perm.value}）", f"not allowed (needs {perm.value})")
        return principal

    dependency.__name__ = f"require_{perm.value.replace('.', '_')}"
    return dependency


ElderReader = Annotated[Principal, Depends(require(Perm.ELDERS_READ))]
ElderWriter = Annotated[Principal, Depends(require(Perm.ELDERS_WRITE))]
CardReader = Annotated[Principal, Depends(require(Perm.CARDS_READ))]
CardWriter = Annotated[Principal, Depends(require(Perm.CARDS_WRITE))]
CanteenReader = Annotated[Principal, Depends(require(Perm.CANTEENS_READ))]
CanteenWriter = Annotated[Principal, Depends(require(Perm.CANTEENS_WRITE))]
MenuWriter = Annotated[Principal, Depends(require(Perm.MENUS_WRITE))]
TerminalReader = Annotated[Principal, Depends(require(Perm.TERMINALS_READ))]
TerminalWriter = Annotated[Principal, Depends(require(Perm.TERMINALS_WRITE))]
RuleReader = Annotated[Principal, Depends(require(Perm.RULES_READ))]
RuleWriter = Annotated[Principal, Depends(require(Perm.RULES_WRITE))]
QuotePreviewer = Annotated[Principal, Depends(require(Perm.QUOTES_PREVIEW))]
AuditReader = Annotated[Principal, Depends(require(Perm.AUDIT_READ))]
StaffManager = Annotated[Principal, Depends(require(Perm.STAFF_MANAGE))]
SettlementReader = Annotated[Principal, Depends(require(Perm.SETTLEMENTS_READ))]
SettlementChecker = Annotated[Principal, Depends(require(Perm.SETTLEMENTS_CHECK))]
ProgrammeReader = Annotated[Principal, Depends(require(Perm.SETTLEMENTS_PROGRAMME))]
MealFlagReader = Annotated[Principal, Depends(require(Perm.MEAL_FLAGS_READ))]
