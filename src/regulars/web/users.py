"""Staff users: create, reset a password, log in with lockout (argon2 hashes).

Used by the web app's login and by ``regulars user create|reset-password``. Every change
is recorded in the audit log in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.errors import RegularsError
from regulars.store.audit import record
from regulars.store.tables import USER_ROLES, User

USER_LOCALES = ("en", "ru")
"""The languages of the web app (``regulars.web.i18n.LOCALES``; a test checks they agree)."""
MIN_PASSWORD_LENGTH = 10
MAX_FAILED_LOGINS = 5
"""Wrong passwords in a row that lock an account for :data:`LOCKOUT`."""
LOCKOUT = timedelta(minutes=15)

_hasher = PasswordHasher()
# Verified against when the username is unknown, so timing does not tell which users exist.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def _username(text: str) -> str:
    name = text.strip().lower()
    # isprintable() also refuses NUL and other control characters, which PostgreSQL
    # cannot store and no one can type at the login.
    if not name or len(name) > 255 or not name.isprintable() or any(c.isspace() for c in name):
        raise RegularsError(
            "a username is 1 to 255 characters without spaces or control characters"
        )
    return name


def check_password(password: str) -> None:
    """Refuse a password shorter than :data:`MIN_PASSWORD_LENGTH` characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RegularsError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")


def find_user(session: Session, username: str) -> User | None:
    return session.scalars(
        select(User).where(User.username == username.strip().lower())
    ).one_or_none()


def create_user(
    session: Session, username: str, password: str, role: str, *, actor: str, locale: str = "en"
) -> User:
    """Add a user in the caller's transaction; a clear error for a taken name or bad role."""
    name = _username(username)
    if role not in USER_ROLES:
        raise RegularsError(f"unknown role '{role}'; use {', '.join(USER_ROLES)}")
    if locale not in USER_LOCALES:
        raise RegularsError(f"unknown locale '{locale}'; use {', '.join(USER_LOCALES)}")
    check_password(password)
    if find_user(session, name) is not None:
        raise RegularsError(f"a user '{name}' exists; use reset-password to change it")
    user = User(username=name, password_hash=_hasher.hash(password), role=role, locale=locale)
    session.add(user)
    session.flush()
    record(
        session,
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=name,
        details={"role": role},
    )
    return user


def reset_password(session: Session, username: str, password: str, *, actor: str) -> User:
    """Set a new password, unlock the account and end every open session of the user."""
    user = _existing(session, username)
    check_password(password)
    user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.session_version += 1
    record(
        session,
        actor=actor,
        action="user.reset_password",
        target_type="user",
        target_id=user.username,
    )
    return user


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    locked_until: datetime | None = None


def authenticate(session: Session, username: str, password: str) -> LoginResult:
    """Check a login; counts wrong passwords and locks the account after
    :data:`MAX_FAILED_LOGINS` in a row (the lock holds even for the right password)."""
    user = find_user(session, username) if username.strip() else None
    now = utcnow()
    if user is None or user.disabled_at is not None:
        _verify(_DUMMY_HASH, password)
        return LoginResult(None)
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(None, user.locked_until)
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            record(
                session,
                actor="web",
                action="user.lock",
                target_type="user",
                target_id=user.username,
                details={"until": user.locked_until.isoformat()},
            )
            return LoginResult(None, user.locked_until)
        return LoginResult(None)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return LoginResult(user)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def list_users(session: Session) -> list[User]:
    """Every user, by name (disabled ones included)."""
    return list(session.scalars(select(User).order_by(User.username)))


def _existing(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise RegularsError(f"no user '{username.strip().lower()}'")
    return user


def _keep_an_owner(session: Session, user: User) -> None:
    """Refuse a change that would leave the shop without an active owner."""
    if user.role != "owner" or user.disabled_at is not None:
        return
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == "owner", User.disabled_at.is_(None), User.id != user.id)
    )
    if not others:
        raise RegularsError(
            f"'{user.username}' is the only active owner; make another user owner first"
        )


def change_role(session: Session, username: str, role: str, *, actor: str) -> User:
    """Give a user another role (never taking the last active owner's away)."""
    user = _existing(session, username)
    if role not in USER_ROLES:
        raise RegularsError(f"unknown role '{role}'; use {', '.join(USER_ROLES)}")
    if role == user.role:
        return user
    if role != "owner":
        _keep_an_owner(session, user)
    before = user.role
    user.role = role
    record(
        session,
        actor=actor,
        action="user.role",
        target_type="user",
        target_id=user.username,
        details={"from": before, "to": role},
    )
    return user


def set_disabled(session: Session, username: str, disabled: bool, *, actor: str) -> User:
    """Disable an account (it cannot log in, its open sessions end) or enable it again;
    the last active owner cannot be disabled."""
    user = _existing(session, username)
    if disabled == (user.disabled_at is not None):
        return user
    if disabled:
        _keep_an_owner(session, user)
        user.disabled_at = utcnow()
        user.session_version += 1
    else:
        user.disabled_at = None
        user.failed_logins = 0
        user.locked_until = None
    record(
        session,
        actor=actor,
        action="user.disable" if disabled else "user.enable",
        target_type="user",
        target_id=user.username,
    )
    return user
