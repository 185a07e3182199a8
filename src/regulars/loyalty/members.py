"""Who is in a program, read for the people who run it: the members with their balance,
tier and last activity, the rewards the program issued, its referrals. Reads only; a page
of rows at a time (``offset``/``limit``), sorted and searched in SQL (one query for the
page, one for the count).

*Members* are the program's accounts (a points program, and every type that posts points
to accounts), or in a tier club the customers it has evaluated. *Tier* is the customer's
tier in the club (a tier club) or, for an account, in the oldest tier club that has one
for them. *Last activity* is the latest ledger entry of the account (the tier club's last
evaluation for a club).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Generic, TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from regulars.loyalty.program_store.tables import LoyaltyReward, LoyaltyTierState, Referral
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyEntry, LoyaltyProgram
from regulars.store.tables import Customer

MEMBER_SORTS: Final = ("balance", "-balance", "activity", "-activity", "customer", "-customer")
"""How the members may be sorted: by balance, last activity or customer id; ``-`` is
descending."""
DEFAULT_SORT: Final = "-activity"


@dataclass(frozen=True)
class Member:
    customer_id: str
    name: str | None
    balance: int | None  # None in a tier club (it keeps no balance)
    tier: str | None
    state: str
    last_activity: datetime | None


T = TypeVar("T")


@dataclass(frozen=True)
class Listing(Generic[T]):
    rows: list[T]
    total: int


def _search(query: Any, q: str | None) -> Any:
    """Customers whose id is ``q`` or whose name or email contains it (case-insensitive)."""
    if not q:
        return query
    like = f"%{q.lower()}%"
    return query.where(
        or_(
            Customer.customer_id == q,
            func.lower(Customer.name).like(like),
            func.lower(Customer.email).like(like),
        )
    )


def _order(sort: str, columns: dict[str, Any]) -> list[Any]:
    """``sort`` as ORDER BY (nulls last either way), the customer id breaking ties."""
    column = columns[sort.lstrip("-")]
    ordered = column.desc() if sort.startswith("-") else column.asc()
    return [column.is_(None), ordered, Customer.customer_id]


def members(
    session: Session,
    program: LoyaltyProgram,
    *,
    q: str | None = None,
    sort: str = DEFAULT_SORT,
    offset: int = 0,
    limit: int = 25,
) -> Listing[Member]:
    """A page of the members of ``program`` (see the module docstring); ``sort`` one of
    :data:`MEMBER_SORTS` (:class:`ValueError` otherwise)."""
    if sort not in MEMBER_SORTS:
        raise ValueError(f"sort must be one of {', '.join(MEMBER_SORTS)}")
    if program.type == "tiers":
        return _club_members(session, program, q, sort, offset, limit)
    return _account_members(session, program, q, sort, offset, limit)


def _account_members(
    session: Session, program: LoyaltyProgram, q: str | None, sort: str, offset: int, limit: int
) -> Listing[Member]:
    last = (
        select(LoyaltyEntry.account_id, func.max(LoyaltyEntry.occurred_at).label("last"))
        .join(LoyaltyAccount, LoyaltyAccount.id == LoyaltyEntry.account_id)
        .where(LoyaltyAccount.program_id == program.id)  # this program's entries only
        .group_by(LoyaltyEntry.account_id)
        .subquery()
    )
    base = (
        select(LoyaltyAccount, Customer.name, last.c.last)
        .join(Customer, Customer.customer_id == LoyaltyAccount.customer_id)
        .outerjoin(last, last.c.account_id == LoyaltyAccount.id)
        .where(LoyaltyAccount.program_id == program.id)
    )
    base = _search(base, q)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    columns = {
        "balance": LoyaltyAccount.balance,
        "activity": last.c.last,
        "customer": Customer.customer_id,
    }
    rows = session.execute(base.order_by(*_order(sort, columns)).offset(offset).limit(limit)).all()
    tiers = _tiers_of(session, [account.customer_id for account, _, _ in rows])
    return Listing(
        rows=[
            Member(
                customer_id=str(account.customer_id),
                name=name,
                balance=account.balance,
                tier=tiers.get(str(account.customer_id)),
                state=account.state,
                last_activity=activity,
            )
            for account, name, activity in rows
        ],
        total=total,
    )


def _tiers_of(session: Session, customer_ids: list[str | None]) -> dict[str, str]:
    """Each customer's tier in the oldest tier club that gave them one."""
    wanted = [c for c in customer_ids if c is not None]
    if not wanted:
        return {}
    rows = session.execute(
        select(LoyaltyTierState.customer_id, LoyaltyTierState.tier)
        .where(LoyaltyTierState.customer_id.in_(wanted), LoyaltyTierState.tier.is_not(None))
        .order_by(LoyaltyTierState.program_id.desc())
    )
    return {customer: str(tier) for customer, tier in rows}  # the oldest club wins


def _club_members(
    session: Session, program: LoyaltyProgram, q: str | None, sort: str, offset: int, limit: int
) -> Listing[Member]:
    base = (
        select(LoyaltyTierState, Customer.name)
        .join(Customer, Customer.customer_id == LoyaltyTierState.customer_id)
        .where(LoyaltyTierState.program_id == program.id)
    )
    base = _search(base, q)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    columns = {
        "balance": LoyaltyTierState.tier,  # a club has no balance: its tier stands in
        "activity": LoyaltyTierState.as_of,
        "customer": Customer.customer_id,
    }
    rows = session.execute(base.order_by(*_order(sort, columns)).offset(offset).limit(limit)).all()
    return Listing(
        rows=[
            Member(
                customer_id=state.customer_id,
                name=name,
                balance=None,
                tier=state.tier,
                state="active",
                last_activity=state.as_of,
            )
            for state, name in rows
        ],
        total=total,
    )


def rewards(
    session: Session, program: LoyaltyProgram, *, offset: int = 0, limit: int = 25
) -> Listing[LoyaltyReward]:
    """The rewards (vouchers, gifts) ``program`` issued, newest first."""
    where = LoyaltyReward.program_id == program.id
    total = session.scalar(select(func.count()).select_from(LoyaltyReward).where(where)) or 0
    rows = session.scalars(
        select(LoyaltyReward)
        .where(where)
        .order_by(LoyaltyReward.issued_at.desc(), LoyaltyReward.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return Listing(rows=list(rows), total=total)


def reward_counts(session: Session, program: LoyaltyProgram) -> dict[str, int]:
    """How many of the program's rewards are in each state (issued, redeemed, revoked…)."""
    rows = session.execute(
        select(LoyaltyReward.state, func.count())
        .where(LoyaltyReward.program_id == program.id)
        .group_by(LoyaltyReward.state)
    )
    return {state: int(count) for state, count in rows}


def referrals(
    session: Session, program: LoyaltyProgram, *, offset: int = 0, limit: int = 25
) -> Listing[Referral]:
    """The referrals of a referral program, newest first."""
    where = Referral.program_id == program.id
    total = session.scalar(select(func.count()).select_from(Referral).where(where)) or 0
    rows = session.scalars(
        select(Referral)
        .where(where)
        .order_by(Referral.created_at.desc(), Referral.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return Listing(rows=list(rows), total=total)
