"""``/v1/loyalty``: programs, accounts, history, adjustments, redemptions and their
cancellation, checkout quote."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response

from regulars.api.deps import SessionDep, require
from regulars.api.openapi import DEFAULT_LIMIT, Cursor, Limit, Text, problems
from regulars.api.schemas import CalendarDate, Page
from regulars.api.schemas.loyalty import (
    AccountOut,
    AdjustIn,
    BadgeOut,
    CancellationOut,
    CancelRedemptionIn,
    EntryOut,
    PostedOut,
    ProgramIn,
    ProgramOut,
    ProgramPatchIn,
    QuoteIn,
    QuoteOut,
    RedeemIn,
    RedeemRewardIn,
    RewardOut,
    StateIn,
    WebhookIn,
    WebhookOut,
)
from regulars.api.services import loyalty as services
from regulars.loyalty.economics.holdout import ProgramEffect
from regulars.loyalty.economics.ledger_mapping import LiveEconomics
from regulars.store.tables import ApiKey

# 401/403 for every route (a missing or under-scoped key), 400/413 for a bad or huge body.
router = APIRouter(prefix="/loyalty", tags=["loyalty"], responses=problems(body=True))

CustomerId = Annotated[Text, Path(min_length=1, max_length=255)]
ProgramQuery = Annotated[
    Text | None,
    Query(max_length=64, description="Program code; default: the oldest active program."),
]
IdempotencyKey = Annotated[
    str, Header(min_length=1, max_length=200, description="Required: makes a retry safe.")
]
Reader = Depends(require("loyalty:read"))
Writer = Annotated[ApiKey, Depends(require("loyalty:write"))]
_UNKNOWN = "unknown customer or program"
_WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "a replay: the same Idempotency-Key and body were seen before"},
    **problems(
        404,
        409,
        body=True,
        d404=_UNKNOWN,
        d409="the balance does not cover it, the order it names is cancelled, or the "
        "Idempotency-Key was used with another body",
    ),
}


@router.post(
    "/programs",
    status_code=201,
    responses=problems(
        409, body=True, d409="the code is taken", d422="unknown type or invalid config"
    ),
)
def create_program(body: ProgramIn, session: SessionDep, key: Writer) -> ProgramOut:
    """Create a loyalty program: a ``type`` and its ``config``."""
    return services.create_program(session, body, actor=services.actor(key))


@router.get("/programs", dependencies=[Reader], responses=problems())
def list_programs(session: SessionDep) -> list[ProgramOut]:
    """Every program, oldest first."""
    return services.list_programs(session)


ProgramCode = Annotated[Text, Path(min_length=1, max_length=64)]
_STATE_RESPONSES = problems(404, 409, d404="unknown program", d409="the program has ended")


@router.patch(
    "/programs/{code}",
    responses=problems(
        404,
        409,
        body=True,
        d404="unknown program",
        d409="the program has ended",
        d422="a config its type refuses, or a change a started program does not allow",
    ),
)
def update_program(
    code: ProgramCode, body: ProgramPatchIn, session: SessionDep, key: Writer
) -> ProgramOut:
    """Change a program's name, config, dates or policies (``code`` and ``type`` never).
    A started program keeps its currency, start, household sharing, ``config.code`` and
    ``config.control_share``; points already earned stay as they were. Audited."""
    changes = services.patch_changes(body)
    return services.update_program(session, code, changes, actor=services.actor(key))


@router.post("/programs/{code}/pause", responses=_STATE_RESPONSES)
def pause_program(code: ProgramCode, session: SessionDep, key: Writer) -> ProgramOut:
    """Pause a program: it earns and runs nothing until resumed; pausing a paused program
    changes nothing. Audited."""
    return services.change_program_state(session, code, "pause", actor=services.actor(key))


@router.post("/programs/{code}/resume", responses=_STATE_RESPONSES)
def resume_program(code: ProgramCode, session: SessionDep, key: Writer) -> ProgramOut:
    """Resume a paused program. Audited."""
    return services.change_program_state(session, code, "resume", actor=services.actor(key))


@router.post("/programs/{code}/end", responses=_STATE_RESPONSES)
def end_program(code: ProgramCode, session: SessionDep, key: Writer) -> ProgramOut:
    """End a program for good (``ends_at`` = now): balances and the ledger stay. Audited."""
    return services.change_program_state(session, code, "end", actor=services.actor(key))


@router.get(
    "/programs/{code}/effect",
    dependencies=[Reader],
    responses=problems(
        404, d404="unknown program", d422="no control group, an empty period or group"
    ),
)
def program_effect(
    code: Annotated[Text, Path(min_length=1, max_length=64)],
    session: SessionDep,
    start: Annotated[CalendarDate, Query(description="First day of the period (shop time).")],
    end: Annotated[CalendarDate, Query(description="Day after the period.")],
) -> ProgramEffect:
    """Members against the control group over ``[start, end)``: repeat rate and revenue per
    customer, their differences with confidence intervals, and the incremental revenue."""
    return services.program_effect(session, code, start, end)


@router.get(
    "/programs/{code}/economics",
    dependencies=[Reader],
    responses=problems(
        404, d404="unknown program", d422="an empty period, or not a points program"
    ),
)
def program_economics(
    code: Annotated[Text, Path(min_length=1, max_length=64)],
    session: SessionDep,
    start: Annotated[
        CalendarDate | None, Query(description="First day (default: the program's first month).")
    ] = None,
    end: Annotated[
        CalendarDate | None, Query(description="Day after the period (default: tomorrow).")
    ] = None,
) -> LiveEconomics:
    """Outstanding points and liability, points flow per month, breakage and reward cost
    of the live ledger, computed as the simulator computes them."""
    return services.program_economics(session, code, start, end)


@router.get(
    "/accounts/{customer_id}",
    dependencies=[Reader],
    responses=problems(404, d404=_UNKNOWN),
)
def get_account(
    customer_id: CustomerId, session: SessionDep, program: ProgramQuery = None
) -> AccountOut:
    """Balance, available and pending points, debt, tier and open lots in one program."""
    return services.get_account(session, customer_id, program)


@router.get(
    "/accounts/{customer_id}/entries",
    dependencies=[Reader],
    responses=problems(404, d404=_UNKNOWN),
)
def list_entries(
    customer_id: CustomerId,
    session: SessionDep,
    program: ProgramQuery = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[EntryOut]:
    """The account's ledger entries, newest first (keyset pagination)."""
    return services.list_entries(session, customer_id, program, limit, cursor)


@router.post("/accounts/{customer_id}/adjust", status_code=201, responses=_WRITE_RESPONSES)
def adjust(
    customer_id: CustomerId,
    body: AdjustIn,
    response: Response,
    session: SessionDep,
    key: Writer,
    idempotency_key: IdempotencyKey,
) -> PostedOut:
    """A manual credit (points > 0) or debit (< 0) with a reason; audited."""
    posted, created = services.adjust(session, customer_id, body, key, idempotency_key)
    response.status_code = 201 if created else 200
    return posted


_HOUSEHOLD_403 = problems(
    d403="the API key lacks the scope, or the household card's spend policy does not let "
    "this member redeem it (owner_only, member_points_per_order)"
)[403]
_REDEEM_RESPONSES: dict[int | str, dict[str, Any]] = {**_WRITE_RESPONSES, 403: _HOUSEHOLD_403}


@router.post("/accounts/{customer_id}/redeem", status_code=201, responses=_REDEEM_RESPONSES)
def redeem(
    customer_id: CustomerId,
    body: RedeemIn,
    response: Response,
    session: SessionDep,
    key: Writer,
    idempotency_key: IdempotencyKey,
) -> PostedOut:
    """Spend points, atomically; 409 when the available balance does not cover them, 403
    when a household member may not spend them from the shared account."""
    posted, created = services.redeem(session, customer_id, body, key, idempotency_key)
    response.status_code = 201 if created else 200
    return posted


@router.post(
    "/accounts/{customer_id}/redemptions/{key:path}/cancel",
    status_code=201,
    responses={
        200: {"description": "a retry: the redemption was already cancelled"},
        **problems(404, body=True, d404="unknown customer, program or redemption"),
    },
)
def cancel_redemption(
    customer_id: CustomerId,
    key: Annotated[
        Text,
        Path(
            min_length=1,
            max_length=200,
            description="The Idempotency-Key this API key sent with the redemption "
            "(a '/' in it may stay as it is).",
        ),
    ],
    response: Response,
    session: SessionDep,
    api_key: Writer,
    body: Annotated[CancelRedemptionIn | None, Body()] = None,
) -> CancellationOut:
    """Give back what a redemption spent (payment declined, order cancelled), into the lots
    it took them from; idempotent, audited."""
    out, created = services.cancel_redemption(
        session, customer_id, key, body or CancelRedemptionIn(), api_key
    )
    response.status_code = 201 if created else 200
    return out


@router.post(
    "/accounts/{customer_id}/opt-out",
    dependencies=[Depends(require("loyalty:write"))],
    responses=problems(404, body=True, d404=_UNKNOWN),
)
def opt_out(customer_id: CustomerId, body: StateIn, session: SessionDep) -> AccountOut:
    """Stop earning and redeeming in a program; the balance is kept."""
    return services.set_state(session, customer_id, body.program, opted_out=True)


@router.post(
    "/accounts/{customer_id}/enroll",
    dependencies=[Depends(require("loyalty:write"))],
    responses=problems(404, body=True, d404=_UNKNOWN),
)
def enroll(customer_id: CustomerId, body: StateIn, session: SessionDep) -> AccountOut:
    """Enroll in a program (or opt back in)."""
    return services.set_state(session, customer_id, body.program, opted_out=False)


@router.post(
    "/quote",
    dependencies=[Reader],
    responses=problems(404, body=True, d404="unknown program"),
)
def quote(body: QuoteIn, session: SessionDep) -> QuoteOut:
    """What a cart would earn and what may be redeemed on it; writes nothing."""
    return services.quote(session, body)


# -- the other program types: rewards and badges (loyalty.program_store) ------------------

RewardState = Annotated[
    Literal["issued", "redeemed", "revoked"] | None, Query(description="Only this state.")
]


@router.get(
    "/accounts/{customer_id}/rewards",
    dependencies=[Reader],
    responses=problems(404, d404="unknown customer"),
)
def list_rewards(
    customer_id: CustomerId, session: SessionDep, state: RewardState = None
) -> list[RewardOut]:
    """The customer's vouchers (free items, gifts), newest first."""
    return services.list_rewards(session, customer_id, state)


@router.post(
    "/rewards/{reward_id}/redeem",
    status_code=201,
    responses={
        200: {"description": "a replay: already redeemed for the same order_id"},
        **problems(
            404,
            409,
            body=True,
            d404="unknown reward",
            d409="already redeemed or revoked",
            d422="invalid body, or the order is unknown or another customer's",
        ),
    },
)
def redeem_reward(
    reward_id: Annotated[str, Path(min_length=1, max_length=32, description="Its public id.")],
    body: RedeemRewardIn,
    response: Response,
    session: SessionDep,
    key: Writer,
) -> RewardOut:
    """Use a voucher at checkout, once."""
    reward, created = services.redeem_reward(session, reward_id, body, key)
    response.status_code = 201 if created else 200
    return reward


@router.get(
    "/accounts/{customer_id}/badges",
    dependencies=[Reader],
    responses=problems(404, d404="unknown customer"),
)
def list_badges(customer_id: CustomerId, session: SessionDep) -> list[BadgeOut]:
    """Badges the customer was awarded, oldest first."""
    return services.list_badges(session, customer_id)


# -- webhook endpoints ----------------------------------------------------------------------

Admin = Annotated[ApiKey, Depends(require("admin"))]


@router.post("/webhooks", status_code=201, responses=problems(body=True, d422="bad url or kind"))
def add_webhook(body: WebhookIn, session: SessionDep, key: Admin) -> WebhookOut:
    """Register an endpoint for every event kind, or only ``kinds``; the answer holds the
    signing secret, shown this once."""
    return services.add_webhook(session, body, key)


@router.get("/webhooks", responses=problems())
def list_webhooks(session: SessionDep, _key: Admin) -> list[WebhookOut]:
    """Every registered endpoint, oldest first, without secrets."""
    return services.list_webhooks(session)


@router.delete("/webhooks/{endpoint_id}", status_code=204, responses=problems(404))
def remove_webhook(
    endpoint_id: Annotated[int, Path(ge=1, le=2**63 - 1)], session: SessionDep, key: Admin
) -> Response:
    """Stop sending to the endpoint (kept for the record); 404 for an unknown id."""
    services.remove_webhook(session, endpoint_id, key)
    return Response(status_code=204)
