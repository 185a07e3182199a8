"""What the partner, charity and draw endpoints of ``/v1/loyalty`` do: call
:mod:`regulars.loyalty.program_store` and turn its results into bodies and its errors into problem
details (the same mapping as :mod:`regulars.api.services.loyalty`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from regulars.api.problems import ApiProblemError
from regulars.api.schemas.loyalty_programs import (
    CancelIn,
    CauseLineOut,
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
    RerunOut,
    SettlementLineOut,
    SettlementOut,
    SubscribeIn,
    WinnerOut,
)
from regulars.api.services.loyalty import _as_problems, _customer, _program, actor
from regulars.loyalty.catalogue import points_program
from regulars.loyalty.program_store import charity, draws, membership, partners, referrals
from regulars.store.audit import record
from regulars.store.tables import ApiKey


def _partner_out(result: partners.PartnerResult) -> tuple[PartnerTransactionOut, bool]:
    out = PartnerTransactionOut(
        partner=result.partner,
        transaction_id=result.transaction_id,
        kind=result.kind,
        customer_id=result.customer_id,
        points=result.points,
        balance=result.balance,
    )
    return out, not result.replay


def partner_sale(
    session: Session, program_code: str, partner: str, body: PartnerSaleIn, key: ApiKey
) -> tuple[PartnerTransactionOut, bool]:
    _customer(session, body.customer_id)
    program = _program(session, program_code)
    with _as_problems():
        result = partners.record_sale(
            session,
            program,
            body.customer_id,
            partner,
            body.transaction_id,
            body.amount,
            actor=actor(key),
            at=body.occurred_at,
        )
    return _partner_out(result)


def partner_redemption(
    session: Session, program_code: str, partner: str, body: PartnerRedemptionIn, key: ApiKey
) -> tuple[PartnerTransactionOut, bool]:
    _customer(session, body.customer_id)
    program = _program(session, program_code)
    with _as_problems():
        result = partners.record_redemption(
            session,
            program,
            body.customer_id,
            partner,
            body.transaction_id,
            body.points,
            actor=actor(key),
        )
    return _partner_out(result)


def settlement(
    session: Session, program_code: str, start: datetime, end: datetime, partner: str | None
) -> SettlementOut:
    program = _program(session, program_code)
    with _as_problems():
        lines = partners.settlement(session, program, start, end, partner)
    return SettlementOut(
        program=program.code,
        start=start,
        end=end,
        lines=[SettlementLineOut.model_validate(line, from_attributes=True) for line in lines],
    )


def donate(
    session: Session, program_code: str, body: DonationIn, key: ApiKey
) -> tuple[DonationOut, bool]:
    _customer(session, body.customer_id)
    program = _program(session, program_code)
    paid_from = None if body.points_program is None else _program(session, body.points_program)
    with _as_problems():
        result = charity.donate(
            session,
            program,
            points_program(session, paid_from),
            body.customer_id,
            body.cause,
            body.points,
            body.donation_id,
            actor=actor(key),
        )
    return DonationOut.model_validate(result, from_attributes=True), not result.replay


def causes_report(
    session: Session, program_code: str, start: datetime, end: datetime
) -> CausesReportOut:
    program = _program(session, program_code)
    with _as_problems():
        lines = charity.cause_report(session, program, start, end)
    return CausesReportOut(
        program=program.code,
        start=start,
        end=end,
        causes=[CauseLineOut.model_validate(line, from_attributes=True) for line in lines],
    )


def _draw_out(view: draws.DrawView, rerun: draws.Verification | None = None) -> DrawOut:
    return DrawOut(
        program=view.program,
        seed=view.seed,
        seed_sha256=view.seed_sha256,
        rule=view.rule,
        eligible_count=view.eligible_count,
        eligible_sha256=view.eligible_sha256,
        winners=[WinnerOut(rank=r, customer_id=c, ticket=t) for r, c, t in view.winners],
        drawn_at=view.drawn_at,
        rerun=None if rerun is None else RerunOut.model_validate(rerun, from_attributes=True),
    )


def run_draw(
    session: Session, program_code: str, body: DrawIn, key: ApiKey
) -> tuple[DrawOut, bool]:
    program = _program(session, program_code)
    try:
        with _as_problems():
            view = draws.run_draw(session, program, actor=actor(key), seed=body.seed)
    except draws.DrawNotDueError as exc:
        raise ApiProblemError(409, str(exc), kind="draw-not-due") from None
    return _draw_out(view), view.created


def get_draw(session: Session, program_code: str) -> DrawOut:
    program = _program(session, program_code)
    with _as_problems():
        view = draws.find_draw(session, program)
        if view is None:
            raise ApiProblemError(404, f"'{program.code}' has not been drawn yet", kind="not-found")
        rerun = draws.verify(session, program)
    return _draw_out(view, rerun)


def _membership_call(call: Callable[[], membership.MembershipView]) -> membership.MembershipView:
    """A membership not found is 404, a change its state refuses 409."""
    try:
        with _as_problems():
            return call()
    except LookupError as exc:
        raise ApiProblemError(404, str(exc.args[0]), kind="not-found") from None
    except membership.MembershipStateError as exc:
        raise ApiProblemError(409, str(exc), kind="membership-conflict") from None


def _membership_out(view: membership.MembershipView) -> MembershipOut:
    return MembershipOut.model_validate(view, from_attributes=True)


def subscribe(
    session: Session, program_code: str, body: SubscribeIn, key: ApiKey
) -> tuple[MembershipOut, bool]:
    _customer(session, body.customer_id)
    program = _program(session, program_code)
    view = _membership_call(
        lambda: membership.subscribe(session, program, body.customer_id, body.plan)
    )
    if view.created:
        record(
            session,
            actor=actor(key),
            action="loyalty.membership.subscribe",
            target_type="loyalty_membership",
            target_id=f"{program.code}:{body.customer_id}",
            details={"plan": view.plan, "charged": str(view.charged)},
        )
    return _membership_out(view), view.created


def cancel_membership(
    session: Session, program_code: str, customer_id: str, body: CancelIn, key: ApiKey
) -> MembershipOut:
    program = _program(session, program_code)
    view = _membership_call(
        lambda: membership.cancel(session, program, customer_id, immediate=body.immediate)
    )
    record(
        session,
        actor=actor(key),
        action="loyalty.membership.cancel",
        target_type="loyalty_membership",
        target_id=f"{program.code}:{customer_id}",
        details={"immediate": body.immediate, "refund": str(view.last_refund or 0)},
    )
    return _membership_out(view)


def change_membership_plan(
    session: Session, program_code: str, customer_id: str, body: ChangePlanIn, key: ApiKey
) -> MembershipOut:
    """Move a member to another plan with proration; 409 when not running."""
    program = _program(session, program_code)
    view = _membership_call(
        lambda: membership.change_plan(session, program, customer_id, body.plan)
    )
    if view.created:
        record(
            session,
            actor=actor(key),
            action="loyalty.membership.change",
            target_type="loyalty_membership",
            target_id=f"{program.code}:{customer_id}",
            details={"plan": view.plan},
        )
    return _membership_out(view)


def renew_membership(session: Session, program_code: str, customer_id: str) -> MembershipOut:
    program = _program(session, program_code)
    return _membership_out(
        _membership_call(lambda: membership.renew(session, program, customer_id))
    )


def get_membership(session: Session, program_code: str, customer_id: str) -> MembershipOut:
    program = _program(session, program_code)
    return _membership_out(_membership_call(lambda: membership.find(session, program, customer_id)))


def refer(
    session: Session, program_code: str, body: ReferralIn, key: ApiKey
) -> tuple[ReferralOut, bool]:
    """422 for a self-referral (with the rule's reason), 409 for a referee referred by
    someone else."""
    _customer(session, body.referrer_id)
    _customer(session, body.referee_id)
    program = _program(session, program_code)
    try:
        view = referrals.refer(session, program, body.referrer_id, body.referee_id, code=body.code)
    except referrals.SelfReferralError as exc:
        raise ApiProblemError(422, str(exc), kind="self-referral") from None
    except referrals.ReferralConflictError as exc:
        raise ApiProblemError(409, str(exc), kind="already-referred") from None
    except ValueError as exc:
        raise ApiProblemError(422, str(exc), kind="invalid-value") from None
    if view.created:
        record(
            session,
            actor=actor(key),
            action="loyalty.referral.create",
            target_type="loyalty_referral",
            target_id=f"{program.code}:{body.referee_id}",
            details={"referrer_id": body.referrer_id},
        )
    return ReferralOut.model_validate(view, from_attributes=True), view.created


def get_referral(session: Session, program_code: str, referee_id: str) -> ReferralOut:
    program = _program(session, program_code)
    try:
        with _as_problems():
            view = referrals.find(session, program, referee_id)
    except LookupError as exc:
        raise ApiProblemError(404, str(exc.args[0]), kind="not-found") from None
    return ReferralOut.model_validate(view, from_attributes=True)


def evaluate_referrals(session: Session, program_code: str) -> EvaluationOut:
    program = _program(session, program_code)
    with _as_problems():
        counts = referrals.evaluate(session, program)
    return EvaluationOut(**counts)
