"""Staff users, sign-in with lock-out, sessions, and API keys.

Passwords are kept as argon2id hashes. Session tokens and API keys are random 256-bit
values; only their SHA-256 is stored (a fast hash is right for high-entropy secrets, and
it lets every request be checked with one indexed look-up).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from patron.audit.service import record_audit
from patron.catalog import service as catalog
from patron.core import caches
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.settings import get_settings
from patron.staff.exceptions import (
    ApiKeyNotFound,
    SignInFailed,
    StaffNotFound,
    StoresRequired,
    UsernameTaken,
    WeakPassword,
)
from patron.staff.models import ApiKey, ApiKeyStore, StaffSession, StaffStore, StaffUser
from patron.staff.roles import STORE_BOUND_ROLES, Role, permissions_of
from patron.staff.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    StaffCreate,
    StaffRead,
    StaffUpdate,
)

API_KEY_PREFIX = "pk_"


@lru_cache(maxsize=4)
def _hasher(memory_kib: int, time_cost: int) -> PasswordHasher:
    return PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=1)


def _password_hasher() -> PasswordHasher:
    settings = get_settings()
    return _hasher(settings.argon2_memory_kib, settings.argon2_time_cost)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_password_strength(password: str, *, field: str = "password") -> None:
    minimum = get_settings().password_min_length
    if len(password) < minimum:
        raise WeakPassword(
            field,
            f"must be at least {minimum} characters",
            message_code="password_too_short",
            n=minimum,
        )
    if password.isdigit() or password.isalpha():
        raise WeakPassword(
            field, "must mix letters with digits or symbols", message_code="password_too_plain"
        )


# ------------------------------------------------------------------------------ staff users


def _store_ids(session: Session, codes: list[str], role: Role, field: str) -> list[int]:
    if role in STORE_BOUND_ROLES and not codes:
        raise StoresRequired(field, f"a {role.value} works in at least one store")
    found = catalog.stores_by_code(session=session, codes=set(codes))
    missing = sorted(set(codes) - found.keys())
    if missing:
        raise StoresRequired(
            field,
            f"no store with code {missing[0]!r}",
            message_code="store_code_unknown",
            code=missing[0],
        )
    return [found[c].id for c in dict.fromkeys(codes)]


def _store_codes_of(
    session: Session,
    owner: InstrumentedAttribute[int],
    store: InstrumentedAttribute[int],
    owner_ids: list[int],
) -> dict[int, list[str]]:
    """Store codes per staff user or key (``owner`` → ``store`` links), in one query."""
    codes = catalog.store_codes_by_id(session=session)
    found: dict[int, list[str]] = {i: [] for i in owner_ids}
    for owner_id, store_id in session.execute(select(owner, store).where(owner.in_(owner_ids))):
        found[owner_id].append(codes[store_id])
    return {i: sorted(c) for i, c in found.items()}


def _staff_reads(session: Session, users: list[StaffUser]) -> list[StaffRead]:
    stores = _store_codes_of(
        session, StaffStore.staff_id, StaffStore.store_id, [u.id for u in users]
    )
    return [
        StaffRead(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=Role(user.role),
            store_codes=stores[user.id],
            is_active=user.is_active,
            locked_until=user.locked_until,
            last_sign_in_at=user.last_sign_in_at,
            created_at=user.created_at,
        )
        for user in users
    ]


def _staff_read(session: Session, user: StaffUser) -> StaffRead:
    return _staff_reads(session, [user])[0]


def create_staff(*, session: Session, staff_in: StaffCreate, actor: Actor) -> StaffRead:
    username = staff_in.username.lower()
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise UsernameTaken(f"username {username!r} is taken", username=username)
    password = staff_in.password.get_secret_value()
    check_password_strength(password)
    store_ids = _store_ids(session, staff_in.store_codes, staff_in.role, "store_codes")
    user = StaffUser(
        username=username,
        display_name=staff_in.display_name,
        password_hash=_password_hasher().hash(password),
        role=staff_in.role.value,
        is_active=True,
        failed_sign_ins=0,
        password_changed_at=utcnow(),
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    session.add_all(StaffStore(staff_id=user.id, store_id=i) for i in store_ids)
    record_audit(
        session=session,
        actor=actor,
        action="staff.create",
        target_kind="staff",
        target_id=user.id,
        details={"role": staff_in.role.value, "stores": len(store_ids)},
    )
    session.flush()
    return _staff_read(session, user)


def _get_user_or_raise(session: Session, staff_id: int) -> StaffUser:
    user = session.get(StaffUser, staff_id)
    if user is None:
        raise StaffNotFound(f"no staff user {staff_id}", staff_id=staff_id)
    return user


def get_staff_or_raise(*, session: Session, staff_id: int) -> StaffRead:
    return _staff_read(session, _get_user_or_raise(session, staff_id))


def list_staff(*, session: Session) -> list[StaffRead]:
    users = session.scalars(select(StaffUser).order_by(StaffUser.username))
    return _staff_reads(session, list(users))


def update_staff(
    *, session: Session, staff_id: int, staff_in: StaffUpdate, actor: Actor
) -> StaffRead:
    user = _get_user_or_raise(session, staff_id)
    changed = staff_in.model_dump(exclude_unset=True)
    role = Role(staff_in.role or user.role)
    if staff_in.store_codes is not None or "role" in changed:
        codes = staff_in.store_codes
        if codes is None:
            codes = _staff_read(session, user).store_codes
        store_ids = _store_ids(session, codes, role, "store_codes")
        session.execute(delete(StaffStore).where(StaffStore.staff_id == user.id))
        session.add_all(StaffStore(staff_id=user.id, store_id=i) for i in store_ids)
    if staff_in.display_name is not None:
        user.display_name = staff_in.display_name
    if staff_in.role is not None:
        user.role = staff_in.role.value
    if staff_in.is_active is not None:
        user.is_active = staff_in.is_active
        if not staff_in.is_active:
            _end_sessions_of(session, user.id)
    if "role" in changed or "store_codes" in changed:
        _end_sessions_of(session, user.id)  # new rights take effect at the next sign-in
    record_audit(
        session=session,
        actor=actor,
        action="staff.update",
        target_kind="staff",
        target_id=user.id,
        details={"fields": sorted(changed), "role": user.role},
    )
    session.flush()
    return _staff_read(session, user)


# ------------------------------------------------------------------------------ sign-in


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str  # goes into the cookie; never stored
    csrf_token: str
    staff: StaffRead


@dataclass(frozen=True, slots=True)
class SignInResult:
    """What a sign-in attempt came to. A refusal is returned, not raised, so that the
    caller commits the failure count and the audit entry before telling the user."""

    signed_in: SignedIn | None
    error: SignInFailed | None = None


def sign_in(
    *,
    session: Session,
    username: str,
    password: str,
    ip: str | None = None,
    user_agent: str | None = None,
) -> SignInResult:
    """Check a password and open a session.

    Each failure counts; after ``sign_in_max_failures`` in a row the account is locked for
    ``sign_in_lock_minutes``, and a right password does not open it early.
    """
    try:
        return SignInResult(
            signed_in=_sign_in(
                session=session, username=username, password=password, ip=ip, user_agent=user_agent
            )
        )
    except SignInFailed as exc:
        return SignInResult(signed_in=None, error=exc)


def _sign_in(
    *,
    session: Session,
    username: str,
    password: str,
    ip: str | None,
    user_agent: str | None,
) -> SignedIn:
    settings = get_settings()
    now = utcnow()
    user = session.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
    who = Actor(
        kind="staff", id=None, name=username[:64], role=None, permissions=frozenset(), ip=ip
    )
    if user is None:
        _password_hasher().hash(password)  # same work as a real check: no timing oracle
        record_audit(
            session=session, actor=who, action="sign_in_failed", details={"why": "unknown"}
        )
        raise SignInFailed("wrong username or password")
    who = Actor(
        kind="staff", id=user.id, name=user.username, role=user.role, permissions=frozenset(), ip=ip
    )
    if user.locked_until is not None and user.locked_until > now:
        # Answered like any other failure, after the same work: a locked account must not
        # tell a stranger that this user name exists.
        _password_hasher().hash(password)
        record_audit(session=session, actor=who, action="sign_in_failed", details={"why": "locked"})
        raise SignInFailed("wrong username or password")
    try:
        _password_hasher().verify(user.password_hash, password)
        ok = user.is_active
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        user.failed_sign_ins += 1
        details: dict[str, object] = {"why": "password" if user.is_active else "inactive"}
        if user.failed_sign_ins >= settings.sign_in_max_failures:
            user.locked_until = now + timedelta(minutes=settings.sign_in_lock_minutes)
            user.failed_sign_ins = 0
            details["locked"] = True
        record_audit(session=session, actor=who, action="sign_in_failed", details=details)
        raise SignInFailed("wrong username or password")
    if _password_hasher().check_needs_rehash(user.password_hash):
        user.password_hash = _password_hasher().hash(password)
    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_sign_in_at = now
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=_sha256(token),
            staff_id=user.id,
            csrf_token=csrf,
            ip=ip,
            user_agent=(user_agent or "")[:255] or None,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_hours),
        )
    )
    record_audit(session=session, actor=who, action="sign_in")
    session.flush()
    return SignedIn(token=token, csrf_token=csrf, staff=_staff_read(session, user))


def _actor(
    session: Session,
    kind: Literal["staff", "api_key"],
    row: StaffUser | ApiKey,
    name: str,
    stores: Select[int],
    *,
    ip: str | None = None,
    session_id: int | None = None,
    csrf_token: str | None = None,
) -> Actor:
    """A staff user or key as an actor: its role's permissions, and its stores (read with
    ``stores``) when the role is store-bound."""
    role = Role(row.role)
    store_ids = frozenset(session.scalars(stores)) if role in STORE_BOUND_ROLES else None
    return Actor(
        kind=kind,
        id=row.id,
        name=name,
        role=role.value,
        permissions=frozenset(p.value for p in permissions_of(role)),
        store_ids=store_ids,
        ip=ip,
        session_id=session_id,
        csrf_token=csrf_token,
    )


def actor_for_session(*, session: Session, token: str, ip: str | None = None) -> Actor | None:
    """The signed-in staff user behind a session cookie, or None if it is unknown or over."""
    now = utcnow()
    row = session.execute(
        select(StaffSession, StaffUser)
        .join(StaffUser, StaffUser.id == StaffSession.staff_id)
        .where(StaffSession.token_hash == _sha256(token))
    ).first()
    if row is None:
        return None
    staff_session, user = row
    if staff_session.ended_at is not None or staff_session.expires_at <= now or not user.is_active:
        return None
    return _actor(
        session,
        "staff",
        user,
        user.username,
        select(StaffStore.store_id).where(StaffStore.staff_id == user.id),
        ip=ip,
        session_id=staff_session.id,
        csrf_token=staff_session.csrf_token,
    )


def sign_out(*, session: Session, token: str, actor: Actor) -> None:
    session.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == _sha256(token), StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    record_audit(session=session, actor=actor, action="sign_out")


def _end_sessions_of(session: Session, staff_id: int) -> None:
    session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def change_password(
    *, session: Session, actor: Actor, current_password: str, new_password: str
) -> None:
    """Change one's own password; every other session of that user ends."""
    if actor.id is None or actor.kind != "staff":
        raise SignInFailed("only a signed-in staff user can change a password")
    user = _get_user_or_raise(session, actor.id)
    try:
        _password_hasher().verify(user.password_hash, current_password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise WeakPassword(
            "current_password", "is not the current password", message_code="password_not_current"
        ) from None
    check_password_strength(new_password, field="new_password")
    if new_password == current_password:
        raise WeakPassword("new_password", "is the same as the current one")
    user.password_hash = _password_hasher().hash(new_password)
    user.password_changed_at = utcnow()
    session.execute(
        update(StaffSession)
        .where(
            StaffSession.staff_id == user.id,
            StaffSession.ended_at.is_(None),
            StaffSession.id != (actor.session_id or 0),
        )
        .values(ended_at=utcnow())
    )
    record_audit(
        session=session,
        actor=actor,
        action="password_change",
        target_kind="staff",
        target_id=user.id,
    )


# ------------------------------------------------------------------------------ API keys


def _api_key_reads(session: Session, keys: list[ApiKey]) -> list[ApiKeyRead]:
    stores = _store_codes_of(
        session, ApiKeyStore.api_key_id, ApiKeyStore.store_id, [k.id for k in keys]
    )
    return [
        ApiKeyRead(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            role=Role(key.role),
            store_codes=stores[key.id],
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )
        for key in keys
    ]


def _api_key_read(session: Session, key: ApiKey) -> ApiKeyRead:
    return _api_key_reads(session, [key])[0]


def create_api_key(*, session: Session, key_in: ApiKeyCreate, actor: Actor) -> ApiKeyCreated:
    store_ids = _store_ids(session, key_in.store_codes, key_in.role, "store_codes")
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=key_in.name,
        prefix=secret[:10],
        key_hash=_sha256(secret),
        role=key_in.role.value,
        created_by_id=actor.id if actor.kind == "staff" else None,
        created_at=utcnow(),
        uses=0,
    )
    session.add(key)
    session.flush()
    session.add_all(ApiKeyStore(api_key_id=key.id, store_id=i) for i in store_ids)
    record_audit(
        session=session,
        actor=actor,
        action="api_key.create",
        target_kind="api_key",
        target_id=key.id,
        details={"role": key_in.role.value, "stores": len(store_ids)},
    )
    session.flush()
    return ApiKeyCreated(key=secret, api_key=_api_key_read(session, key))


def list_api_keys(*, session: Session) -> list[ApiKeyRead]:
    return _api_key_reads(session, list(session.scalars(select(ApiKey).order_by(ApiKey.id))))


def revoke_api_key(*, session: Session, api_key_id: int, actor: Actor) -> ApiKeyRead:
    key = session.get(ApiKey, api_key_id)
    if key is None:
        raise ApiKeyNotFound(f"no API key {api_key_id}", api_key_id=api_key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        record_audit(
            session=session,
            actor=actor,
            action="api_key.revoke",
            target_kind="api_key",
            target_id=key.id,
        )
    session.flush()
    _key_cache.clear()
    return _api_key_read(session, key)


# Every integration call presents its key; keep recently seen ones for a few seconds so a
# busy till does not cost a look-up per sale. Revoking clears it here at once; another
# server process notices within _KEY_CACHE_SECONDS.
_KEY_CACHE_SECONDS = 10.0
_key_cache: dict[str, tuple[float, Actor]] = {}
_key_lock = threading.Lock()


def actor_for_api_key_cached(key: str) -> Actor | None:
    """The actor for a key seen in the last few seconds, without touching the database."""
    cached = _key_cache.get(_sha256(key))
    if cached is not None and time.monotonic() - cached[0] < _KEY_CACHE_SECONDS:
        return cached[1]
    return None


def actor_for_api_key(*, session: Session, key: str) -> Actor | None:
    """The actor for an integration's key; None when unknown or revoked."""
    if not key.startswith(API_KEY_PREFIX) or len(key) > 100:
        return None
    digest = _sha256(key)
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if row is None or row.revoked_at is not None:
        return None
    actor = _actor(
        session,
        "api_key",
        row,
        row.name,
        select(ApiKeyStore.store_id).where(ApiKeyStore.api_key_id == row.id),
    )
    with _key_lock:
        if len(_key_cache) > 10_000:
            _key_cache.clear()
        _key_cache[digest] = (time.monotonic(), actor)
    return actor


def clear_key_cache() -> None:
    _key_cache.clear()


caches.register("staff.api_keys", clear_key_cache, max_age_s=_KEY_CACHE_SECONDS)


def note_api_key_use(*, session: Session, api_key_id: int) -> None:
    """Stamp last_used_at (called at most once a minute per key by the web layer)."""
    session.execute(
        update(ApiKey)
        .where(ApiKey.id == api_key_id)
        .values(last_used_at=utcnow(), uses=ApiKey.uses + 1)
    )


DEMO_ADMIN = "admin"


def reset_demo_admin(*, session: Session, actor: Actor) -> str:
    """Make sure the demo's ``admin`` exists with a fresh random password; return it.

    Only the demo uses this: a real deployment makes its first admin with
    ``patron users create``.
    """
    password = secrets.token_urlsafe(9) + "-7"
    user = session.scalar(select(StaffUser).where(StaffUser.username == DEMO_ADMIN))
    if user is None:
        create_staff(
            session=session,
            staff_in=StaffCreate.model_validate(
                {
                    "username": DEMO_ADMIN,
                    "display_name": "演示管理员",
                    "password": password,
                    "role": Role.ADMIN,
                }
            ),
            actor=actor,
        )
        return password
    user.password_hash = _password_hasher().hash(password)
    user.password_changed_at = utcnow()
    user.is_active = True
    user.locked_until = None
    user.failed_sign_ins = 0
    record_audit(
        session=session,
        actor=actor,
        action="password_change",
        target_kind="staff",
        target_id=user.id,
        details={"by": "demo"},
    )
    return password
