"""``/v1/loyalty/programs/{program}/…``: coalition partners (sales, redemptions,
settlement), charity (donations, report per cause), prize draws, paid memberships and referrals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from regulars.api.deps import SessionDep, require
from regulars.api.openapi import IdPath, Text, problems
from regulars.api.schemas import UTCTime
from regulars.api.schemas.loyalty_programs import (
    CancelIn,
    CausesReportOut,
    ChangePlanIn,
    DonationIn,
    DonationOut,
    DrawIn,
    DrawOut,
    EvaluationOut,
    MembershipOut,
    PartnerRedemptionIn,
    PartnerSaleIn,
    PartnerTransactionOut,
    ReferralIn,
    ReferralOut,
    SettlementOut,
    SubscribeIn,
)
from regulars.api.services import loyalty_programs as services
from regulars.store.tables import ApiKey

router = APIRouter(prefix="/loyalty/programs/{program}", tags=["loyalty"])

ProgramCode = Annotated[Text, Path(min_length=1, max_length=64)]
PartnerCode = Annotated[Text, Path(min_length=1, max_length=64)]
Start = Annotated[UTCTime, Query(description="Start of the period (inclusive).")]
End = Annotated[UTCTime, Query(description="End of the period (exclusive).")]
Writer = Annotated[ApiKey, Depends(require("loyalty:write"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]
Reader = Depends(require("loyalty:read"))


def _ok(description: str) -> dict[int | str, dict[str, Any]]:
    """The 200 of a POST that found its work already done."""
    return {200: {"description": description}}


_REPLAY = _ok("a replay: the same id and body were seen before")
_WRITE = _REPLAY | problems(
    404,
    409,
    body=True,
    d404="unknown customer or program",
    d409="the points do not cover it, or the id was used otherwise",
    d422="unknown partner or cause, or a value the program refuses",
)
_READ = problems(404, d404="unknown program", d422="a program of another type, or a bad period")


@router.post("/partners/{partner}/sales", status_code=201, responses=_WRITE)
def partner_sale(
    program: ProgramCode,
    partner: PartnerCode,
    body: PartnerSaleIn,
    response: Response,
    session: SessionDep,
    key: Writer,
) -> PartnerTransactionOut:
    """A sale at a coalition partner: credits its points; idempotent by transaction_id."""
    out, created = services.partner_sale(session, program, partner, body, key)
    response.status_code = 201 if created else 200
    return out


@router.post("/partners/{partner}/redemptions", status_code=201, responses=_WRITE)
def partner_redemption(
    program: ProgramCode,
    partner: PartnerCode,
    body: PartnerRedemptionIn,
    response: Response,
    session: SessionDep,
    key: Writer,
) -> PartnerTransactionOut:
    """Pay with points at a partner, atomically; 409 when the points do not cover it."""
    out, created = services.partner_redemption(session, program, partner, body, key)
    response.status_code = 201 if created else 200
    return out


@router.get("/settlement", responses=_READ)
def settlement(
    program: ProgramCode,
    start: Start,
    end: End,
    session: SessionDep,
    _key: Admin,
    partner: Annotated[Text | None, Query(max_length=64)] = None,
) -> SettlementOut:
    """What each partner and the program owe each other for ``[start, end)`` (admin)."""
    return services.settlement(session, program, start, end, partner)


@router.post("/donations", status_code=201, responses=_WRITE)
def donate(
    program: ProgramCode, body: DonationIn, response: Response, session: SessionDep, key: Writer
) -> DonationOut:
    """Donate points to a cause; the match is fixed now. Idempotent by donation_id."""
    out, created = services.donate(session, program, body, key)
    response.status_code = 201 if created else 200
    return out


@router.get("/causes-report", dependencies=[Reader], responses=_READ)
def causes_report(
    program: ProgramCode, start: Start, end: End, session: SessionDep
) -> CausesReportOut:
    """Donated and matched points and their value per cause for ``[start, end)``."""
    return services.causes_report(session, program, start, end)


@router.post(
    "/draw",
    status_code=201,
    responses=_ok("already drawn: the stored draw")
    | problems(
        404,
        409,
        body=True,
        d404="unknown program",
        d409="the draw's period has not ended",
        d422="not a draw program",
    ),
)
def run_draw(
    program: ProgramCode, body: DrawIn, response: Response, session: SessionDep, key: Admin
) -> DrawOut:
    """Draw the winners once (admin); again: the same draw."""
    out, created = services.run_draw(session, program, body, key)
    response.status_code = 201 if created else 200
    return out


@router.get("/draw", dependencies=[Reader], responses=_READ)
def get_draw(program: ProgramCode, session: SessionDep) -> DrawOut:
    """The draw with its seed, rule and winners, and a re-run from the stored seed."""
    return services.get_draw(session, program)


CustomerId = IdPath
_MEMBERSHIP = _REPLAY | problems(
    404,
    409,
    body=True,
    d404="unknown customer, program or membership",
    d409="a member on another plan",
    d422="unknown plan, or not a membership program",
)


@router.post("/memberships", status_code=201, responses=_MEMBERSHIP)
def subscribe(
    program: ProgramCode, body: SubscribeIn, response: Response, session: SessionDep, key: Writer
) -> MembershipOut:
    """Subscribe and charge the first period; again while a member: 200, unchanged."""
    out, created = services.subscribe(session, program, body, key)
    response.status_code = 201 if created else 200
    return out


@router.get("/memberships/{customer_id}", dependencies=[Reader], responses=_MEMBERSHIP)
def get_membership(
    program: ProgramCode, customer_id: CustomerId, session: SessionDep
) -> MembershipOut:
    """The membership: its period, whether it is active, charged and refunded so far."""
    return services.get_membership(session, program, customer_id)


@router.post("/memberships/{customer_id}/renew", responses=_MEMBERSHIP)
def renew_membership(
    program: ProgramCode, customer_id: CustomerId, session: SessionDep, _key: Writer
) -> MembershipOut:
    """Charge the periods started by now (the daily job loyalty.memberships does it too)."""
    return services.renew_membership(session, program, customer_id)


@router.post("/memberships/{customer_id}/change", responses=_MEMBERSHIP)
def change_membership_plan(
    program: ProgramCode,
    customer_id: CustomerId,
    body: ChangePlanIn,
    session: SessionDep,
    key: Writer,
) -> MembershipOut:
    """Move to another plan now: one charge or refund for the prorated difference (the same
    plan: unchanged); 409 for a membership that is not running."""
    return services.change_membership_plan(session, program, customer_id, body, key)


@router.post("/memberships/{customer_id}/cancel", responses=_MEMBERSHIP)
def cancel_membership(
    program: ProgramCode, customer_id: CustomerId, body: CancelIn, session: SessionDep, key: Writer
) -> MembershipOut:
    """Cancel at period end, or now with the prorated refund; idempotent."""
    return services.cancel_membership(session, program, customer_id, body, key)


@router.post(
    "/referrals",
    status_code=201,
    responses=_ok("this referral was recorded before")
    | problems(
        404,
        409,
        body=True,
        d404="unknown customer or program",
        d409="the referee was referred by someone else",
        d422="a self-referral (the reason says why)",
    ),
)
def refer(
    program: ProgramCode, body: ReferralIn, response: Response, session: SessionDep, key: Writer
) -> ReferralOut:
    """Record a referral; rewarded once the referee's first paid order can't be returned."""
    out, created = services.refer(session, program, body, key)
    response.status_code = 201 if created else 200
    return out


@router.get("/referrals/{customer_id}", dependencies=[Reader], responses=_READ)
def get_referral(program: ProgramCode, customer_id: CustomerId, session: SessionDep) -> ReferralOut:
    """The referral of a referee: its state, the reason and when the reward is due."""
    return services.get_referral(session, program, customer_id)


@router.post("/referrals/evaluate", responses=_READ)
def evaluate_referrals(program: ProgramCode, session: SessionDep, _key: Writer) -> EvaluationOut:
    """Decide the pending referrals now (the daily job loyalty.referrals does it too)."""
    return services.evaluate_referrals(session, program)
