"""Settings → webhooks: the loyalty webhook endpoints through the services of
``/v1/loyalty/webhooks`` (create with the signing secret shown once, disable, delete) and
each endpoint's recent deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from regulars.api.deps import SessionDep
from regulars.api.problems import ApiProblemError
from regulars.api.schemas.loyalty import WebhookIn
from regulars.api.services import loyalty as services
from regulars.loyalty.webhooks import EVENT_KINDS
from regulars.store.tables import User
from regulars.web.deps import CsrfDep, require
from regulars.web.i18n import N_
from regulars.web.render import render
from regulars.web.roles import Permission

router = APIRouter()
Owner = Annotated[User, Depends(require(Permission.SETTINGS))]


def actor(user: User) -> str:
    return f"user:{user.username}"


def _page(
    request: Request, session: Session, user: User, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    context: dict[str, Any] = {
        "endpoints": services.list_webhooks(session),
        "deliveries": services.webhook_deliveries(session),
        "kinds": EVENT_KINDS,
        "errors": {},
        "form": {"url": "", "kinds": []},
        "created": None,
        **extra,
    }
    return render(request, "settings_webhooks.html", context, user=user, status_code=status_code)


@router.get("/settings/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, session: SessionDep, user: Owner) -> HTMLResponse:
    return _page(request, session, user)


@router.post("/settings/webhooks", response_class=HTMLResponse, dependencies=[CsrfDep])
def add_webhook(
    request: Request,
    session: SessionDep,
    user: Owner,
    url: Annotated[str, Form(max_length=4096)] = "",
    kinds: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    """Register an endpoint (every kind when none is ticked); its secret is shown once."""
    form = {"url": url, "kinds": kinds or []}
    errors: dict[str, str] = {}
    if any(k not in EVENT_KINDS for k in kinds or []):
        errors["kinds"] = N_("Choose event kinds from the list.")
    try:
        body = WebhookIn(url=url.strip(), kinds=kinds or None)
    except ValidationError:
        errors["url"] = N_("Give the full address, starting with https:// (8 to 2048 characters).")
    if errors:
        return _page(request, session, user, 422, errors=errors, form=form)
    try:
        created = services.add_webhook(session, body, actor(user))
    except ApiProblemError as exc:
        errors["url"] = str(exc.detail)
        return _page(request, session, user, 422, errors=errors, form=form)
    return _page(request, session, user, created=created)


@router.post("/settings/webhooks/{endpoint_id}/{change}", dependencies=[CsrfDep])
def change_webhook(
    request: Request, session: SessionDep, user: Owner, endpoint_id: int, change: str
) -> Response:
    """Disable an endpoint (nothing more is sent; kept for the record) or delete a disabled
    one with its deliveries."""
    try:
        if change == "disable":
            services.remove_webhook(session, endpoint_id, actor(user))
        elif change == "delete":
            services.delete_webhook(session, endpoint_id, actor(user))
        else:
            raise ApiProblemError(404, f"no change '{change}'", kind="not-found")
    except ApiProblemError as exc:
        if exc.status == 404:
            context = {"title": N_("Not found"), "message": str(exc.detail)}
            return render(request, "error.html", context, user=user, status_code=404)
        return _page(request, session, user, exc.status, errors={"row": str(exc.detail)})
    return RedirectResponse("/settings/webhooks", status_code=303)
