"""Charity live: donations of points to a cause, the company's match, the report per cause.

A donation is paid from the customer's account in a ``points`` program (the one named,
or the oldest running one) and recorded against the ``charity`` program's cause. Its
match is fixed when it is made, by
:func:`regulars.loyalty.program_types.charity.match_points` with the points the cause already
matched in the donation's cap period (month or year, UTC). Donations of one program are
serialised by a lock on the program row, so two donations at the same moment cannot both
take the last of a cap. The donation id is the idempotency key (``charity:<id>`` in the
ledger): the same donation again returns the first result, another one under the same id
is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.accounting import ledger
from regulars.loyalty.accounting.enrolment import enroll
from regulars.loyalty.accounting.ledger import fingerprint
from regulars.loyalty.catalogue import lock_program, points_config, typed_config
from regulars.loyalty.errors import IdempotencyConflictError, InsufficientPointsError
from regulars.loyalty.program_store.tables import Donation
from regulars.loyalty.program_types import CharityConfig, charity
from regulars.loyalty.tables import LoyaltyProgram


@dataclass(frozen=True)
class DonationResult:
    donation_id: str
    customer_id: str
    cause: str
    points: int
    matched_points: int
    balance: int
    replay: bool


def charity_config(program: LoyaltyProgram) -> CharityConfig:
    return typed_config(program, "charity", CharityConfig)


def cap_period_bounds(config: CharityConfig, at: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` of the cap period ``at`` falls in."""
    year, month = charity.cap_period(config, at)
    if month == 0:
        return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _matched_so_far(
    session: Session, program: LoyaltyProgram, config: CharityConfig, cause: str, at: datetime
) -> int:
    start, end = cap_period_bounds(config, at)
    total = session.scalar(
        select(func.coalesce(func.sum(Donation.matched_points), 0)).where(
            Donation.program_id == program.id,
            Donation.cause == cause,
            Donation.occurred_at >= start,
            Donation.occurred_at < end,
        )
    )
    return int(total or 0)


def _replay(found: Donation, request_hash: str, balance: int) -> DonationResult:
    if found.request_hash != request_hash:
        raise IdempotencyConflictError(f"charity:{found.donation_id}")
    return DonationResult(
        found.donation_id,
        found.customer_id,
        found.cause,
        found.points,
        found.matched_points,
        balance,
        True,
    )


def donate(
    session: Session,
    program: LoyaltyProgram,
    paid_from: LoyaltyProgram,
    customer_id: str,
    cause: str,
    points: int,
    donation_id: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> DonationResult:
    """Take ``points`` from the customer's account in ``paid_from`` for ``cause``."""
    config = charity_config(program)
    rules = points_config(paid_from)
    now = now or utcnow()
    request_hash = fingerprint(
        {"customer": customer_id, "cause": cause, "points": points, "from": paid_from.code}
    )
    lock_program(session, program)
    account = ledger.lock_account(session, enroll(session, paid_from, customer_id).id)
    found = session.scalars(
        select(Donation).where(
            Donation.program_id == program.id, Donation.donation_id == donation_id
        )
    ).one_or_none()
    if found is not None:
        return _replay(found, request_hash, account.balance)
    available = ledger.available_points(session, account, now)
    if points > available:
        raise InsufficientPointsError(points, available)
    debit = charity.donate(
        config, charity.Donation(donation_id, customer_id, cause, points, now), available
    )
    matched = charity.match_points(
        config.cause(cause), points, _matched_so_far(session, program, config, cause, now)
    )
    spec = ledger.EntrySpec(
        kind="spend",
        key=debit.key,
        actor=actor,
        occurred_at=now,
        request_hash=request_hash,
        reason=debit.reason,
        money=ledger.points_money(points, rules.point_value),
    )
    posted = ledger.spend(session, account.id, points, spec, now=now)
    session.add(
        Donation(
            program_id=program.id,
            donation_id=donation_id,
            customer_id=customer_id,
            cause=cause,
            points=points,
            matched_points=matched,
            request_hash=request_hash,
            entry_id=posted.entry_id,
            occurred_at=now,
            created_at=utcnow(),
        )
    )
    session.flush()
    return DonationResult(donation_id, customer_id, cause, points, matched, posted.balance, False)


def cause_report(
    session: Session, program: LoyaltyProgram, start: datetime, end: datetime
) -> list[charity.CauseReport]:
    """Per cause: donations of ``[start, end)``, donated and matched points and their value.

    The match of each donation is the stored one (fixed when it was made), which equals
    what :func:`regulars.loyalty.program_types.charity.matches` replays over the same history.
    """
    config = charity_config(program)
    if end <= start:
        raise ValueError("end: must be after start")
    rows = list(
        session.scalars(
            select(Donation).where(
                Donation.program_id == program.id,
                Donation.occurred_at >= start,
                Donation.occurred_at < end,
            )
        )
    )
    report = []
    for cause in config.causes:
        inside = [r for r in rows if r.cause == cause.code]
        donated = sum(r.points for r in inside)
        matched = sum(r.matched_points for r in inside)
        report.append(
            charity.CauseReport(
                cause=cause.code,
                donations=len(inside),
                donated_points=donated,
                matched_points=matched,
                donated_value=_value(donated, config),
                matched_value=_value(matched, config),
                total_value=_value(donated + matched, config),
            )
        )
    return report


def _value(points: int, config: CharityConfig) -> Decimal:
    return (points * config.point_value).quantize(charity.CENT, ROUND_HALF_UP)
