"""Staff, passwords (argon2), login sessions and API tokens. Secrets are shown once and stored as keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from server import sql
from server.audit import service as audit
from server.auth.principal import CANTEEN_ROLES, STAFF_ROLES, TOKEN_ROLES, Perm, Principal, Role
from server.auth.tables import AuthToken, Staff
from server.base import utcnow
from server.canteens.tables import Canteen, Terminal
from server.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized

SESSION_PREFIX = "rs_"
API_PREFIX = "ra_"
TERMINAL_PREFIX = "rt_"

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password")


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str, *, pepper: str) -> str:
    """HMAC-SHA256 of the token keyed with the server secret: a stolen table alone cannot be replayed."""
    return hmac.new(pepper.encode(), token.encode(), hashlib.sha256).hexdigest()


def staff_principal(staff: Staff, roles: frozenset[Role], token_id: uuid.UUID | None) -> Principal:
    return Principal(
        kind="staff",
        id=staff.id,
        name=staff.username,
        roles=roles,
        canteen_id=staff.canteen_id if Role(staff.role) in CANTEEN_ROLES else None,
        token_id=token_id,
    )


def staff_snapshot(staff: Staff) -> dict[str, object]:
    return {
        "username": staff.username,
        "display_name": staff.display_name,
        "role": staff.role,
        "canteen_id": str(staff.canteen_id) if staff.canteen_id else None,
        "active": staff.active,
    }


def create_staff(
    session: Session,
    *,
    actor: Principal,
    username: str,
    role: Role,
    display_name: str = "",
    canteen_id: uuid.UUID | None = None,
    password: str | None = None,
) -> tuple[Staff, str]:
    """Create a member of staff with a generated password (returned once)."""
    if role not in STAFF_ROLES:
        raise Invalid.field("role", "role.not_staff", "终端不是工作人员角色", "terminal is not a staff role")
    if role in CANTEEN_ROLES:
        if canteen_id is None:
            raise Invalid.field(
                "canteen_id", "missing", "食堂管理员和收银员须指定食堂", "a canteen manager or cashier needs a canteen"
            )
        if session.get(Canteen, canteen_id) is None:
            raise Invalid.field("canteen_id", "canteen.unknown", "食堂不存在", "no such canteen")
    elif canteen_id is not None:
        raise Invalid.field(
            "canteen_id",
            "canteen.not_allowed",
            "只有食堂管理员和收银员属于某个食堂",
            "only canteen managers and cashiers belong to a canteen",
        )
    if session.exec(select(Staff).where(col(Staff.username) == username)).first() is not None:
        raise Conflict(f"用户名 {username} 已存在", f"username {username} is taken", code="staff.username_taken")
    password = password or secrets.token_urlsafe(12)
    staff = Staff(
        username=username,
        display_name=display_name,
        password_hash=_hasher.hash(password),
        role=role.value,
        canteen_id=canteen_id,
    )
    session.add(staff)
    sql.flush_unique(
        session, Conflict(f"用户名 {username} 已存在", f"username {username} is taken", code="staff.username_taken")
    )
    audit.record(
        session,
        actor=actor,
        action="staff.create",
        object_type="staff",
        object_id=staff.id,
        after=staff_snapshot(staff),
    )
    return staff, password


def list_staff(session: Session) -> list[Staff]:
    return list(session.exec(select(Staff).order_by(col(Staff.username))))


def set_staff_active(session: Session, *, actor: Principal, staff_id: uuid.UUID, active: bool) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("工作人员", "staff member")
    before = staff_snapshot(staff)
    staff.active = active
    session.add(staff)
    audit.record(
        session,
        actor=actor,
        action="staff.activate" if active else "staff.deactivate",
        object_type="staff",
        object_id=staff.id,
        before=before,
        after=staff_snapshot(staff),
    )
    return staff


def login(session: Session, *, username: str, password: str, pepper: str, hours: int) -> tuple[str, AuthToken, Staff]:
    staff = session.exec(select(Staff).where(col(Staff.username) == username)).first()
    bad = Unauthorized("用户名或密码不正确", "wrong username or password", code="auth.bad_credentials")
    if staff is None:
        _verify(_DUMMY_HASH, password)  # same time whether or not the user exists
        raise bad
    if not _verify(staff.password_hash, password) or not staff.active:
        raise bad
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher.hash(password)
        session.add(staff)
    token = new_secret(SESSION_PREFIX)
    row = AuthToken(
        staff_id=staff.id,
        kind="session",
        name="login",
        token_hash=token_hash(token, pepper=pepper),
        roles=staff.role,
        expires_at=utcnow() + timedelta(hours=hours),
    )
    session.add(row)
    actor = staff_principal(staff, frozenset({Role(staff.role)}), row.id)
    audit.record(session, actor=actor, action="auth.login", object_type="auth_token", object_id=row.id)
    return token, row, staff


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def create_api_token(
    session: Session,
    *,
    actor: Principal,
    name: str,
    roles: list[Role],
    expires_at: datetime | None,
    pepper: str,
) -> tuple[str, AuthToken]:
    if actor.kind != "staff" or actor.id is None:
        raise Forbidden("只有工作人员可以创建令牌", "only staff can mint tokens")
    staff = session.get(Staff, actor.id)
    if staff is None:
        raise Unauthorized("身份已失效", "identity no longer valid")
    # A token can never hold more than the token that mints it, nor more than the staff member's role grants.
    allowed = frozenset(r for r in TOKEN_ROLES[Role(staff.role)] if any(r in TOKEN_ROLES[a] for a in actor.roles))
    for i, role in enumerate(roles):
        if role not in allowed:
            raise Invalid.field(
                f"roles[{i}]",
                "role.not_grantable",
                f"不能授予角色 {role.value}",
                f"you cannot grant role {role.value}",
            )
    if expires_at is not None and expires_at <= utcnow():
        raise Invalid.field("expires_at", "expires.past", "过期时间须在将来", "expiry must be in the future")
    token = new_secret(API_PREFIX)
    row = AuthToken(
        staff_id=staff.id,
        kind="api",
        name=name,
        token_hash=token_hash(token, pepper=pepper),
        roles=",".join(sorted({r.value for r in roles})),
        expires_at=expires_at,
    )
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="auth.token_create",
        object_type="auth_token",
        object_id=row.id,
        after={"name": name, "roles": row.roles, "expires_at": expires_at.isoformat() if expires_at else None},
    )
    return token, row


def list_tokens(session: Session, *, actor: Principal) -> list[AuthToken]:
    stmt = select(AuthToken).where(col(AuthToken.staff_id) == actor.id, col(AuthToken.kind) == "api")
    return list(session.exec(stmt.order_by(col(AuthToken.created_at))))


def revoke_token(session: Session, *, actor: Principal, token_id: uuid.UUID) -> AuthToken:
    """Staff revoke their own tokens; an admin (staff.manage) may revoke anyone's."""
    row = session.get(AuthToken, token_id)
    if row is None or (row.staff_id != actor.id and not actor.can(Perm.STAFF_MANAGE)):
        raise NotFound("令牌", "token")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        audit.record(session, actor=actor, action="auth.token_revoke", object_type="auth_token", object_id=row.id)
    return row


def logout(session: Session, *, actor: Principal) -> None:
    if actor.token_id is not None:
        row = session.get(AuthToken, actor.token_id)
        if row is not None and row.revoked_at is None:
            row.revoked_at = utcnow()
            session.add(row)
            audit.record(session, actor=actor, action="auth.logout", object_type="auth_token", object_id=row.id)


def authenticate(session: Session, *, token: str, pepper: str) -> Principal:
    """The principal behind a bearer token, or 401."""
    bad = Unauthorized("令牌无效或已失效", "invalid, expired or revoked token", code="auth.bad_token")
    hashed = token_hash(token, pepper=pepper)
    if token.startswith(TERMINAL_PREFIX):
        terminal = session.exec(select(Terminal).where(col(Terminal.credential_hash) == hashed)).first()
        if terminal is None or terminal.revoked_at is not None:
            raise bad
        return Principal(
            kind="terminal",
            id=terminal.id,
            name=f"terminal:{terminal.name}",
            roles=frozenset({Role.TERMINAL}),
            canteen_id=terminal.canteen_id,
        )
    if not token.startswith((SESSION_PREFIX, API_PREFIX)):
        raise bad
    row = session.exec(select(AuthToken).where(col(AuthToken.token_hash) == hashed)).first()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= utcnow()):
        raise bad
    staff = session.get(Staff, row.staff_id)
    if staff is None or not staff.active:
        raise bad
    # The token's roles, cut down to what the staff member may still grant today.
    grantable = TOKEN_ROLES[Role(staff.role)]
    roles = frozenset(Role(r) for r in row.roles.split(",") if r and Role(r) in grantable)
    if not roles:
        raise bad
    return staff_principal(staff, roles, row.id)
