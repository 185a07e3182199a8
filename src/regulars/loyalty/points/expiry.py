"""The nightly expiry and its events: every due lot expires in one set-based transaction
(:func:`expire_lots`, three statements whatever the number of accounts), a
``points_expired`` event per account that lost points is written in the same transaction
while an endpoint subscribes to the kind (:func:`emit_points_expired`, one
``INSERT … SELECT``), and ``points_expiring`` warnings name the lots expiring soon.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Engine, String, cast, func, insert, literal, select, update
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.tables import (
    LoyaltyAccount,
    LoyaltyEntry,
    LoyaltyEvent,
    LoyaltyLot,
    LoyaltyProgram,
)
from regulars.loyalty.webhooks import emit, emit_from_select, subscribed
from regulars.store.json_sql import JSON_FUNCTIONS, typed_text
from regulars.store.session import session_scope


def expire_due(engine: Engine, now: datetime | None = None) -> int:
    """The nightly job ``loyalty.expire``: expire every due lot in one transaction
    (:func:`expire_lots`, set-based); returns the points expired. ``now`` must not be in
    the future: lots past it are frozen for every other operation. While an endpoint
    subscribes to ``points_expired``, the same transaction first records one such event per
    account that loses points (:func:`emit_points_expired`)."""
    now = now or utcnow()
    with session_scope(engine) as session:
        if subscribed(session, "points_expired"):
            emit_points_expired(session, now)
        return expire_lots(session, now)


def emit_points_expired(session: Session, now: datetime) -> int:
    """One ``points_expired`` event per account holding lots that expire at ``now``, with
    one ``INSERT … SELECT`` (whatever the number of accounts); returns how many.

    Run in the expiry's transaction just before it (the due lots are frozen, so both see
    the same lots). Payload: ``program``, ``customer_id`` / ``household_id`` (the holder),
    ``points`` (Σ of the due lots' remaining), ``balance`` (after the expiry), ``lots``
    (``[{"lot_id", "points"}]``) and ``expired_at`` (the run's ``now``, ISO 8601 UTC).
    Key ``points_expired:<account id>:<expired_at>``: a re-run expires nothing more and so
    records nothing; a later run only reports the lots that became due since.
    """
    stamp = now.astimezone(UTC).isoformat()
    sql_json = JSON_FUNCTIONS[session.get_bind().dialect.name]
    due = (
        select(
            LoyaltyLot.account_id,
            func.sum(LoyaltyLot.remaining).label("points"),
            sql_json.object_array("lot_id", LoyaltyLot.id, "points", LoyaltyLot.remaining).label(
                "lots"
            ),
        )
        .where(*due_for_expiry(now))
        .group_by(LoyaltyLot.account_id)
        .subquery()
    )
    payload = sql_json.build(
        program=LoyaltyProgram.code,
        customer_id=LoyaltyAccount.customer_id,
        household_id=LoyaltyAccount.household_id,
        points=due.c.points,
        balance=LoyaltyAccount.balance - due.c.points,
        lots=sql_json.embed(due.c.lots),
        expired_at=typed_text(stamp),
    )
    rows = (
        select(
            literal("points_expired:") + cast(due.c.account_id, String) + literal(f":{stamp}"),
            literal("points_expired"),
            due.c.account_id,
            payload,
            literal(utcnow(), LoyaltyEvent.created_at.type),
        )
        .join(LoyaltyAccount, LoyaltyAccount.id == due.c.account_id)
        .join(LoyaltyProgram, LoyaltyProgram.id == LoyaltyAccount.program_id)
    )
    return emit_from_select(session, rows)


@dataclass(frozen=True)
class ExpiringLot:
    program: str
    account_id: int
    customer_id: str | None
    household_id: str | None
    lot_id: int
    remaining: int
    expires_at: datetime


def expiring_soon(session: Session, now: datetime, days: int) -> list[ExpiringLot]:
    """Lots with points left that expire within ``days`` after ``now``: who to warn."""
    rows = session.execute(
        select(
            LoyaltyProgram.code,
            LoyaltyAccount.id,
            LoyaltyAccount.customer_id,
            LoyaltyAccount.household_id,
            LoyaltyLot.id,
            LoyaltyLot.remaining,
            LoyaltyLot.expires_at,
        )
        .join(LoyaltyAccount, LoyaltyAccount.id == LoyaltyLot.account_id)
        .join(LoyaltyProgram, LoyaltyProgram.id == LoyaltyAccount.program_id)
        .where(
            LoyaltyLot.remaining > 0,
            LoyaltyLot.expires_at > now,
            LoyaltyLot.expires_at <= now + timedelta(days=days),
        )
        .order_by(LoyaltyLot.expires_at, LoyaltyLot.id)
    ).all()
    return [
        ExpiringLot(code, account, customer, household, lot, remaining, expires)
        for code, account, customer, household, lot, remaining, expires in rows
        if expires is not None
    ]


def emit_expiry_warnings(session: Session, now: datetime, days: int) -> int:
    """One ``points_expiring`` event per account with points expiring within ``days``, once
    per account and day (key ``points_expiring:<account>:<UTC date>``, so a rerun the same
    day sends nothing more): the total, the first expiry and each lot's points and expiry,
    soonest first. Returns how many lots are expiring."""
    lots = expiring_soon(session, now, days)
    by_account: dict[int, list[ExpiringLot]] = {}
    for lot in lots:
        by_account.setdefault(lot.account_id, []).append(lot)
    for account_id, held in by_account.items():
        first = held[0]  # expiring_soon orders by expiry
        emit(
            session,
            "points_expiring",
            f"points_expiring:{account_id}:{now.astimezone(UTC).date().isoformat()}",
            {
                "program": first.program,
                "customer_id": first.customer_id,
                "household_id": first.household_id,
                "points": sum(lot.remaining for lot in held),
                "expires_at": first.expires_at.isoformat(),
                "lots": [
                    {"points": lot.remaining, "expires_at": lot.expires_at.isoformat()}
                    for lot in held
                ],
            },
            account_id=account_id,
        )
    return len(lots)


def due_for_expiry(now: datetime) -> list[ColumnElement[bool]]:
    """The lots :func:`expire_lots` expires at ``now``: past ``expires_at``, points left."""
    return [LoyaltyLot.expires_at <= now, LoyaltyLot.remaining > 0]


def expire_lots(session: Session, now: datetime) -> int:
    """Expire what is left of every lot whose ``expires_at`` ≤ ``now``, set-based.

    Three statements, whatever the number of accounts:

    1. ``INSERT INTO loyalty_entries … SELECT`` one ``expire`` entry of ``−remaining`` per
       due lot (key ``expire:<lot id>``, so a lot expires once);
    2. ``UPDATE loyalty_accounts SET balance = balance − due FROM (SELECT account_id,
       Σ remaining AS due … GROUP BY account_id)`` for the accounts holding due lots;
    3. ``UPDATE loyalty_lots SET remaining = 0`` for the due lots.

    Due lots are frozen (no other operation touches a lot past its expiry), so the three
    statements see the same lots. Running it again expires nothing more. Returns the
    number of points expired.
    """
    due = due_for_expiry(now)
    expiring = int(
        session.scalar(select(func.coalesce(func.sum(LoyaltyLot.remaining), 0)).where(*due)) or 0
    )
    if expiring == 0:
        return 0
    created = utcnow()
    rows = select(
        LoyaltyLot.account_id,
        literal("expire"),
        -LoyaltyLot.remaining,
        LoyaltyLot.id,
        literal("expire:") + func.cast(LoyaltyLot.id, LoyaltyEntry.idempotency_key.type),
        literal("system"),
        LoyaltyLot.expires_at,
        literal(created, LoyaltyEntry.created_at.type),
    ).where(*due)
    session.execute(
        insert(LoyaltyEntry).from_select(
            [
                "account_id",
                "kind",
                "points",
                "lot_id",
                "idempotency_key",
                "actor",
                "occurred_at",
                "created_at",
            ],
            rows,
        )
    )
    per_account = (
        select(LoyaltyLot.account_id, func.sum(LoyaltyLot.remaining).label("due"))
        .where(*due)
        .group_by(LoyaltyLot.account_id)
        .subquery()
    )
    session.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.id == per_account.c.account_id)
        .values(balance=LoyaltyAccount.balance - per_account.c.due)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(LoyaltyLot)
        .where(*due)
        .values(remaining=0)
        .execution_options(synchronize_session=False)
    )
    return expiring
