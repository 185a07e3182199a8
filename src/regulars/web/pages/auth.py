"""Logging in and out. The login is throttled per client address and locks an account
after repeated wrong passwords (:func:`regulars.web.users.authenticate`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from regulars.api.deps import SessionDep
from regulars.clock import utcnow
from regulars.store.audit import record
from regulars.web.deps import CsrfDep, UserDep, client_address, session_user, signer_of
from regulars.web.i18n import N_
from regulars.web.render import render
from regulars.web.security import SESSION_COOKIE
from regulars.web.users import authenticate

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only a local path (never ``//host`` or a URL): no open redirect after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, session: SessionDep, next: str = "/") -> Response:
    if session_user(request, session) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    context = {"next": safe_next(next), "username": "", "error": None, "minutes": 0}
    return render(request, "login.html", context, user=None)


@router.post("/login", response_class=HTMLResponse, dependencies=[CsrfDep])
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=255)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    target = safe_next(next)
    context: dict[str, Any] = {"next": target, "username": username, "error": None, "minutes": 0}
    if not request.app.state.web.throttle.allow(client_address(request)):
        context["error"] = N_("Too many attempts from here. Wait a minute and try again.")
        return render(request, "login.html", context, user=None, status_code=429)
    result = authenticate(session, username, password)
    if result.user is None:
        if result.locked_until is not None:
            minutes = max(1, int((result.locked_until - utcnow()).total_seconds() // 60) + 1)
            context["minutes"] = minutes
            context["error"] = N_(
                "This account is locked after too many wrong passwords; try again in "
                "%(minutes)s minutes or ask the owner to reset the password."
            )
        else:
            context["error"] = N_("Wrong username or password.")
        return render(request, "login.html", context, user=None, status_code=400)
    user = result.user
    record(
        session,
        actor=f"user:{user.username}",
        action="user.login",
        target_type="user",
        target_id=user.username,
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        signer_of(request).session_cookie(user.id, user.session_version),
        max_age=signer_of(request).max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", dependencies=[CsrfDep])
def logout(user: UserDep, session: SessionDep) -> Response:
    record(
        session,
        actor=f"user:{user.username}",
        action="user.logout",
        target_type="user",
        target_id=user.username,
    )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
