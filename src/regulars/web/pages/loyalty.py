"""Loyalty: the programs, as the API lists them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from regulars.api.deps import SessionDep
from regulars.api.services.loyalty import list_programs
from regulars.store.tables import User
from regulars.web.deps import require
from regulars.web.render import render
from regulars.web.roles import Permission

router = APIRouter()


@router.get("/loyalty", response_class=HTMLResponse)
def programs_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require(Permission.LOYALTY))],
) -> HTMLResponse:
    return render(request, "loyalty.html", {"programs": list_programs(session)}, user=user)
