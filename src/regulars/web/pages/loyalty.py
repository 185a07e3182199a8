"""Loyalty: the programs as the API lists them; pause, resume or end one (owner, marketer)
through the API's service, which records the change in the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from regulars.api.deps import SessionDep
from regulars.api.problems import ApiProblemError
from regulars.api.services.loyalty import change_program_state, list_programs
from regulars.clock import utcnow
from regulars.loyalty.catalogue import PROGRAM_ACTIONS, program_state
from regulars.store.tables import User
from regulars.web.deps import CsrfDep, require
from regulars.web.render import render
from regulars.web.roles import Permission

router = APIRouter()


def _page(
    request: Request, session: Session, user: User, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    now = utcnow()
    programs = [(p, program_state(p, now)) for p in list_programs(session)]
    context: dict[str, Any] = {"programs": programs, "errors": {}, "notice": None, **extra}
    return render(request, "loyalty.html", context, user=user, status_code=status_code)


@router.get("/loyalty", response_class=HTMLResponse)
def programs_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require(Permission.LOYALTY))],
) -> HTMLResponse:
    return _page(request, session, user)


@router.post("/loyalty/{code}/state", dependencies=[CsrfDep])
def change_state(
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require(Permission.LOYALTY_WRITE))],
    code: str,
    action: Annotated[str, Form(max_length=16)] = "",
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Ending is for good, so it needs its box ticked; an error is shown beside the form."""
    if action not in PROGRAM_ACTIONS:
        errors = {code: "Choose pause, resume or end."}
        return _page(request, session, user, 422, errors=errors)
    if action == "end" and confirm != "yes":
        errors = {code: "Tick “end it for good” to end the program."}
        return _page(request, session, user, 422, errors=errors)
    try:
        change_program_state(session, code, action, actor=f"user:{user.username}")
    except ApiProblemError as exc:
        return _page(request, session, user, exc.status, errors={code: exc.detail})
    return RedirectResponse("/loyalty", status_code=303)
