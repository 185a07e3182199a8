"""Enrolment: opening a customer's account in a program (once, safe under concurrency),
refused for the control group, and opting an account out of the program or back in.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.accounting.control import held_out
from regulars.loyalty.accounting.holders import account_query, holder_for
from regulars.loyalty.errors import ControlGroupError
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyProgram


def enroll(session: Session, program: LoyaltyProgram, customer_id: str) -> LoyaltyAccount:
    """The customer's account in ``program``, created if missing (safe under concurrency:
    ``INSERT … ON CONFLICT DO NOTHING`` on the unique holder key). Does not re-activate an
    opted-out account; :class:`~regulars.loyalty.errors.ControlGroupError` for a customer of
    the control group."""
    if held_out(session, program, customer_id):
        raise ControlGroupError(
            f"customer '{customer_id}' is in the control group of program '{program.code}': "
            "no account, no points"
        )
    holder = holder_for(session, program, customer_id)
    conn = session.connection()
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    session.execute(
        dialect_insert(LoyaltyAccount)
        .values(
            program_id=program.id,
            customer_id=holder.customer_id,
            household_id=holder.household_id,
            state="active",
            balance=0,
            debt=0,
            enrolled_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    account: LoyaltyAccount = session.scalars(
        account_query(program.id, holder).execution_options(populate_existing=True)
    ).one()
    return account


def set_opted_out(
    session: Session, program: LoyaltyProgram, customer_id: str, opted_out: bool
) -> LoyaltyAccount:
    """Opt the account out (no earning or redeeming; the balance is kept) or back in."""
    account = enroll(session, program, customer_id)
    account.state = "opted_out" if opted_out else "active"
    account.opted_out_at = utcnow() if opted_out else None
    session.flush()
    return account
