"""Who is asking and may they: the session's user, the role check, the CSRF check.

A page without a valid session redirects to ``/login?next=<the page>`` (303); a user
whose role lacks the permission gets a 403 page, never a silent 200.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from regulars.api.deps import SessionDep
from regulars.store.tables import User
from regulars.web.roles import Permission, allows
from regulars.web.security import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Signer


class LoginRequiredError(Exception):
    """No valid session: the handler redirects to the login with ``next``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class ForbiddenError(Exception):
    """The user's role lacks the permission: a 403 page."""

    def __init__(self, user: User, permission: Permission) -> None:
        super().__init__(permission.value)
        self.user = user
        self.permission = permission


class CsrfError(Exception):
    """A form without a valid CSRF token: a 403 page."""


def signer_of(request: Request) -> Signer:
    signer: Signer = request.app.state.web.signer
    return signer


def login_url(request: Request) -> str:
    """``/login?next=`` the page asked for (path and query; always a local path)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(target, safe='')}"


def session_user(request: Request, session: Session) -> User | None:
    """The user of a valid, unexpired session cookie whose version is still current."""
    claims = signer_of(request).read_session(request.cookies.get(SESSION_COOKIE))
    if claims is None:
        return None
    user = session.get(User, claims.user_id)
    if user is None or user.session_version != claims.version or user.disabled_at is not None:
        return None
    return user


def current_user(request: Request, session: SessionDep) -> User:
    user = session_user(request, session)
    if user is None:
        raise LoginRequiredError(login_url(request))
    return user


UserDep = Annotated[User, Depends(current_user)]


def require(permission: Permission) -> Callable[[User], Awaitable[User]]:
    """A dependency: the session's user, who must have ``permission`` (403 otherwise)."""

    async def check(user: UserDep) -> User:
        if not allows(user.role, permission):
            raise ForbiddenError(user, permission)
        return user

    return check


async def csrf_checked(request: Request) -> None:
    """Every state-changing request carries the token of its browser's CSRF cookie."""
    token = request.headers.get(CSRF_HEADER)
    if token is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not signer_of(request).csrf_valid(request.cookies.get(CSRF_COOKIE), token):
        raise CsrfError


CsrfDep = Depends(csrf_checked)


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"
