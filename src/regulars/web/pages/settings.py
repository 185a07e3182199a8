"""Settings: the shop (name, time zone, currency, locale), users, and API keys (create
with the secret shown once, revoke), through the same functions as ``regulars apikey``
and ``regulars user``; every change is in the audit log under the user's name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from regulars.api.deps import SessionDep
from regulars.api.keys import SCOPES, UnknownApiKeyError, add_api_key, list_api_keys, revoke_api_key
from regulars.errors import RegularsError
from regulars.store import shop_settings
from regulars.store.tables import USER_ROLES, User
from regulars.web import users as staff
from regulars.web.deps import CsrfDep, require
from regulars.web.i18n import N_
from regulars.web.render import render
from regulars.web.roles import Permission, allows

router = APIRouter()
Owner = Annotated[User, Depends(require(Permission.SETTINGS))]
Field = Annotated[str, Form(max_length=255)]


def actor(user: User) -> str:
    """How the audit log names a web user: ``user:<username>``."""
    return f"user:{user.username}"


@router.get("/settings")
def settings_home(
    user: Annotated[User, Depends(require(Permission.IMPORT))],
) -> RedirectResponse:
    """The first settings page the user's role may open (a marketer: the data import)."""
    if allows(user.role, Permission.SETTINGS):
        return RedirectResponse("/settings/shop", status_code=303)
    return RedirectResponse("/settings/import", status_code=303)


# -- shop -------------------------------------------------------------------------------


def _shop_form(session: Session) -> dict[str, str]:
    row = shop_settings.stored(session)
    return {f: (getattr(row, f) or "") if row is not None else "" for f in shop_settings.FIELDS}


def _shop_page(
    request: Request, session: Session, user: User, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    context: dict[str, Any] = {
        "form": _shop_form(session),
        "errors": {},
        "saved": False,
        "env": request.app.state.web.config,
        "zones": sorted(shop_settings.time_zones()),
        **extra,
    }
    return render(request, "settings_shop.html", context, user=user, status_code=status_code)


@router.get("/settings/shop", response_class=HTMLResponse)
def shop_page(request: Request, session: SessionDep, user: Owner) -> HTMLResponse:
    return _shop_page(request, session, user)


@router.post("/settings/shop", response_class=HTMLResponse, dependencies=[CsrfDep])
def save_shop(
    request: Request,
    session: SessionDep,
    user: Owner,
    name: Field = "",
    timezone: Field = "",
    currency: Field = "",
    locale: Field = "",
) -> HTMLResponse:
    values = shop_settings.ShopValues(name, timezone, currency, locale)
    try:
        shop_settings.save(session, values, actor=actor(user))
    except shop_settings.InvalidShopSettingsError as exc:
        form = {"name": name, "timezone": timezone, "currency": currency, "locale": locale}
        return _shop_page(request, session, user, 422, errors=exc.errors, form=form)
    return _shop_page(request, session, user, saved=True)


# -- users ------------------------------------------------------------------------------

ROLE_NAMES = (N_("owner"), N_("marketer"), N_("agent"), N_("viewer"))
"""The roles as the pages name them (marked for translation; the table's values)."""
USER_ERRORS = {
    "name": N_("A username is 1 to 255 characters without spaces."),
    "taken": N_("That username is taken."),
    "password": N_("A password has at least 10 characters."),
}


def _users_page(
    request: Request, session: Session, user: User, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    context: dict[str, Any] = {
        "users": staff.list_users(session),
        "roles": USER_ROLES,
        "errors": {},
        "row_errors": {},
        "form": {"username": "", "role": "viewer"},
        "done": None,
        **extra,
    }
    return render(request, "settings_users.html", context, user=user, status_code=status_code)


@router.get("/settings/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep, user: Owner) -> HTMLResponse:
    return _users_page(request, session, user)


def _new_user_errors(session: Session, username: str, role: str, password: str) -> dict[str, str]:
    errors = {}
    name = username.strip()
    if not name or any(c.isspace() for c in name):
        errors["username"] = USER_ERRORS["name"]
    elif staff.find_user(session, name) is not None:
        errors["username"] = USER_ERRORS["taken"]
    if role not in USER_ROLES:
        errors["role"] = N_("Choose a role from the list.")
    if len(password) < staff.MIN_PASSWORD_LENGTH:
        errors["password"] = USER_ERRORS["password"]
    return errors


@router.post("/settings/users", response_class=HTMLResponse, dependencies=[CsrfDep])
def create_user(
    request: Request,
    session: SessionDep,
    user: Owner,
    username: Field = "",
    role: Field = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> HTMLResponse:
    """Add a user with an initial password (the rules of ``regulars user create``)."""
    errors = _new_user_errors(session, username, role, password)
    if not errors:
        try:
            staff.create_user(session, username, password, role, actor=actor(user))
        except RegularsError as exc:  # a rule of the service the checks above missed
            errors["username"] = str(exc)
    if errors:  # the password is never sent back into the page
        form = {"username": username, "role": role}
        return _users_page(request, session, user, 422, errors=errors, form=form)
    return _users_page(request, session, user, done=N_("User created."))


@router.post(
    "/settings/users/{username}/{change}", response_class=HTMLResponse, dependencies=[CsrfDep]
)
def change_user(
    request: Request,
    session: SessionDep,
    user: Owner,
    username: str,
    change: str,
    role: Field = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Change a user's role, disable or enable them, or reset their password; a change
    that would leave the shop without an active owner is refused with the reason."""
    if staff.find_user(session, username) is None:
        context = {"title": N_("No such user"), "message": f"No user '{username}'."}
        return render(request, "error.html", context, user=user, status_code=404)
    try:
        if change == "role":
            staff.change_role(session, username, role, actor=actor(user))
        elif change in ("disable", "enable"):
            staff.set_disabled(session, username, change == "disable", actor=actor(user))
        elif change == "password":
            if len(password) < staff.MIN_PASSWORD_LENGTH:
                raise RegularsError(USER_ERRORS["password"])
            staff.reset_password(session, username, password, actor=actor(user))
        else:
            context = {"title": N_("Not found"), "message": f"No change '{change}'."}
            return render(request, "error.html", context, user=user, status_code=404)
    except RegularsError as exc:  # the services check before they change anything
        errors = {username.strip().lower(): str(exc)}
        return _users_page(request, session, user, 422, row_errors=errors)
    return RedirectResponse("/settings/users", status_code=303)


# -- API keys ---------------------------------------------------------------------------


def _keys_page(
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
    return _keys_page(request, session, user)


@router.post("/settings/keys", response_class=HTMLResponse, dependencies=[CsrfDep])
def create_key(
    request: Request,
    session: SessionDep,
    user: Owner,
    name: Field = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    """Create a key; the page shows its secret this once (it is stored only hashed)."""
    chosen = scopes or []
    errors = {}
    if not name.strip():
        errors["name"] = N_("Give the key a name, e.g. what it is for.")
    if not chosen:
        errors["scopes"] = N_("Choose at least one scope.")
    elif any(s not in SCOPES for s in chosen):
        errors["scopes"] = N_("Choose scopes from the list.")
    if errors:
        form = {"name": name, "scopes": chosen}
        return _keys_page(request, session, user, 422, errors=errors, form=form)
    row, key = add_api_key(session, name, chosen, actor=actor(user))
    return _keys_page(request, session, user, new_key={"name": row.name, "secret": key})


@router.post("/settings/keys/{prefix}/revoke", dependencies=[CsrfDep])
def revoke_key(request: Request, session: SessionDep, user: Owner, prefix: str) -> Response:
    try:
        revoke_api_key(session, prefix, actor=actor(user))
    except UnknownApiKeyError:
        context = {"title": N_("No such key"), "message": f"No API key '{prefix}'."}
        return render(request, "error.html", context, user=user, status_code=404)
    return RedirectResponse("/settings/keys", status_code=303)
