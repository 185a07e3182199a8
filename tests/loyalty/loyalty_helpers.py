"""Loyalty test helpers: a points program, and customers, orders and returns inserted the
way the store holds them; the ledger invariants every test checks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.loyalty.catalogue import ProgramSpec, create_program
from regulars.loyalty.tables import (
    LoyaltyAccount,
    LoyaltyEntry,
    LoyaltyLot,
    LoyaltyLotConsumption,
    LoyaltyProgram,
)
from regulars.store.tables import Customer, Order, OrderLine, OrderReturn

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


@contextmanager
def api_client(engine: Engine, scopes: list[str], program: dict[str, Any]) -> Iterator[TestClient]:
    """An API client with a key of ``scopes`` and ``program`` created through the API."""
    with TestClient(create_app(engine)) as client:
        _row, key = create_api_key(engine, "shop", scopes)
        client.headers["Authorization"] = f"Bearer {key}"
        created = client.post("/v1/loyalty/programs", json=program)
        assert created.status_code == 201, created.text
        yield client


POINTS_CONFIG: dict[str, Any] = {
    "earn_per_unit": "1",
    "point_value": "0.01",
    "pending_days": 14,
    "expiry_days": 365,
    "max_redeem_share": "0.5",
}


def make_program(session: Session, code: str = "points", **overrides: Any) -> LoyaltyProgram:
    config = {**POINTS_CONFIG, **overrides.pop("config", {})}
    spec = ProgramSpec(
        code=code,
        name=code.title(),
        type="points",
        config=config,
        starts_at=overrides.pop("starts_at", datetime(2020, 1, 1, tzinfo=UTC)),
        **overrides,
    )
    program = create_program(session, spec)
    session.commit()
    return program


def add_customer(
    session: Session, customer_id: str, household_id: str | None = None, **fields: Any
) -> None:
    """A customer; ``fields`` are other columns (``created_at``, ``time_zone`` …)."""
    session.add(
        Customer(customer_id=customer_id, household_id=household_id, attributes={}, **fields)
    )
    session.flush()


def add_order(
    session: Session,
    order_id: str,
    customer_id: str,
    amount: str,
    at: datetime = T0,
    lines: list[tuple[str, str | None, str]] = (),  # type: ignore[assignment]
) -> Order:
    """An order; ``lines`` are (sku, category, line_amount)."""
    if session.scalar(select(Customer.id).where(Customer.customer_id == customer_id)) is None:
        add_customer(session, customer_id)
    order = Order(
        shop_id="default",
        order_id=order_id,
        customer_id=customer_id,
        ordered_at=at,
        amount=Decimal(amount),
        refunded_amount=Decimal("0.00"),
        status="completed",
    )
    session.add(order)
    session.flush()
    for sku, category, line_amount in lines:
        session.add(
            OrderLine(
                shop_id="default",
                order_id=order_id,
                sku=sku,
                category=category,
                quantity=1,
                unit_price=Decimal(line_amount),
                line_amount=Decimal(line_amount),
            )
        )
    session.flush()
    return order


def add_return(
    session: Session, return_id: str, order: Order, amount: str, at: datetime = T0
) -> OrderReturn:
    ret = OrderReturn(
        shop_id=order.shop_id,
        return_id=return_id,
        order_id=order.order_id,
        customer_id=order.customer_id,
        returned_at=at,
        amount=Decimal(amount),
        lines=[],
    )
    session.add(ret)
    order.refunded_amount += Decimal(amount)
    session.flush()
    return ret


def check_ledger(
    session: Session, allow_negative: bool = False, program_id: int | None = None
) -> None:
    """The invariants every account (of ``program_id``, or all) must satisfy after any
    sequence of operations."""
    query = select(LoyaltyAccount).execution_options(populate_existing=True)
    if program_id is not None:
        query = query.where(LoyaltyAccount.program_id == program_id)
    for account in session.scalars(query):
        total = session.scalar(
            select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
                LoyaltyEntry.account_id == account.id
            )
        )
        assert account.balance == total, "cached balance == Σ entries"
        remaining = session.scalar(
            select(func.coalesce(func.sum(LoyaltyLot.remaining), 0)).where(
                LoyaltyLot.account_id == account.id
            )
        )
        assert remaining is not None
        assert remaining >= account.balance
        if not allow_negative:
            assert account.balance >= 0
            assert remaining == account.balance, "no overdraft without allow_negative"
        negatives = session.scalar(
            select(func.count()).where(
                LoyaltyLot.remaining < 0, LoyaltyLot.account_id == account.id
            )
        )
        assert negatives == 0


def check_lots(session: Session, account_id: int) -> None:
    """remaining == points − Σ consumptions − expired, for every lot of the account
    (consumptions are negative where a cancelled redemption put points back)."""
    consumed = (
        select(func.coalesce(func.sum(LoyaltyLotConsumption.points), 0))
        .where(LoyaltyLotConsumption.lot_id == LoyaltyLot.id)
        .scalar_subquery()
    )
    expired = (
        select(func.coalesce(func.sum(LoyaltyEntry.points), 0))
        .where(LoyaltyEntry.lot_id == LoyaltyLot.id, LoyaltyEntry.kind == "expire")
        .scalar_subquery()
    )
    for points, remaining, used, gone in session.execute(
        select(LoyaltyLot.points, LoyaltyLot.remaining, consumed, expired).where(
            LoyaltyLot.account_id == account_id
        )
    ):
        assert remaining == points - used + gone
