"""Settings: API keys (create with the secret shown once, revoke), through the same
functions as ``regulars apikey``; every change is in the audit log under the user's name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from regulars.api.deps import SessionDep
from regulars.api.keys import SCOPES, UnknownApiKeyError, add_api_key, list_api_keys, revoke_api_key
from regulars.store.tables import User
from regulars.web.deps import CsrfDep, require
from regulars.web.i18n import N_
from regulars.web.render import render
from regulars.web.roles import Permission

router = APIRouter()
Owner = Annotated[User, Depends(require(Permission.SETTINGS))]


def actor(user: User) -> str:
    """How the audit log names a web user: ``user:<username>``."""
    return f"user:{user.username}"


def _page(
    request: Request, session: Session, user: User, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    context: dict[str, Any] = {
        "keys": list_api_keys(session),
        "scopes": SCOPES,
        "errors": {},
        "form": {"name": "", "scopes": []},
        "new_key": None,
        **extra,
    }
    return render(request, "settings_keys.html", context, user=user, status_code=status_code)


@router.get("/settings/keys", response_class=HTMLResponse)
def keys_page(request: Request, session: SessionDep, user: Owner) -> HTMLResponse:
    return _page(request, session, user)


@router.post("/settings/keys", response_class=HTMLResponse, dependencies=[CsrfDep])
def create_key(
    request: Request,
    session: SessionDep,
    user: Owner,
    name: Annotated[str, Form(max_length=255)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    """Create a key; the page shows its secret this once (it is stored only hashed)."""
    chosen = scopes or []
    errors = {}
    if not name.strip():
        errors["name"] = "Give the key a name, e.g. what it is for."
    if not chosen:
        errors["scopes"] = "Choose at least one scope."
    elif any(s not in SCOPES for s in chosen):
        errors["scopes"] = "Choose scopes from the list."
    if errors:
        form = {"name": name, "scopes": chosen}
        return _page(request, session, user, 422, errors=errors, form=form)
    row, key = add_api_key(session, name, chosen, actor=actor(user))
    return _page(request, session, user, new_key={"name": row.name, "secret": key})


@router.post("/settings/keys/{prefix}/revoke", dependencies=[CsrfDep])
def revoke_key(request: Request, session: SessionDep, user: Owner, prefix: str) -> Response:
    try:
        revoke_api_key(session, prefix, actor=actor(user))
    except UnknownApiKeyError:
        context = {"title": N_("No such key"), "message": f"No API key '{prefix}'."}
        return render(request, "error.html", context, user=user, status_code=404)
    return RedirectResponse("/settings/keys", status_code=303)
