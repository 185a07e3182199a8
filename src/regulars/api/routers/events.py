"""``/v1/events`` (a customer's events are listed under ``/v1/customers/{id}/events``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from regulars.api.deps import SessionDep, require
from regulars.api.openapi import problems
from regulars.api.schemas import EventIn, EventOut
from regulars.api.services.events import write_events

router = APIRouter(prefix="/events", tags=["events"])


@router.post(
    "",
    status_code=201,
    dependencies=[Depends(require("events:write"))],
    responses={
        200: {"description": "a replay: the same event was already recorded", "model": EventOut},
        **problems(body=True),
    },
)
def post_event(body: EventIn, session: SessionDep, response: Response) -> EventOut:
    """Record a behavioural event; an unknown customer is created with just its id."""
    (write,) = write_events(session, [body])
    response.status_code = 201 if write.created else 200
    return write.event
