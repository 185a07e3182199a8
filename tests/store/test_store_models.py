"""The models on a migrated database: exact money, UTC time, keys and cascades."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError, StatementError

from regulars.store.session import session_scope
from regulars.store.tables import (
    Base,
    Consent,
    Customer,
    CustomerScore,
    Event,
    Order,
    OrderLine,
    Product,
    ProductPrice,
    ProductStock,
)

T0 = datetime(2024, 3, 31, 0, 30, tzinfo=UTC)


def _count(engine: Engine, model: type[Base]) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _customer_with_everything(engine: Engine, customer_id: str = "c1") -> None:
    with session_scope(engine) as session:
        session.add(Product(sku="SKU-1", name="Mug", category="kitchen", price=Decimal("9.90")))
        session.add(
            Customer(
                customer_id=customer_id,
                name="Ann",
                email="ann@example.com",
                phone="+4930123456",
                birthday=date(1990, 2, 28),
                time_zone="Europe/Berlin",
                language="de",
                acquisition_channel="instagram",
                household_id="h1",
                attributes={"vip": True, "sizes": ["M"]},
                consents=[Consent(channel="email", topic="newsletter", granted=True)],
                score=CustomerScore(
                    segment="champions",
                    kind="regular",
                    stage="loyal",
                    p_alive=0.93,
                    clv_12m=Decimal("123.45"),
                    churn_risk=0.07,
                ),
            )
        )
        session.flush()
        session.add(Event(customer_id=customer_id, kind="viewed", sku="SKU-1", occurred_at=T0))
        session.add(
            Order(
                order_id="1001",
                customer_id=customer_id,
                ordered_at=T0,
                amount=Decimal("19.80"),
                currency="EUR",
                lines=[
                    OrderLine(
                        sku="SKU-1",
                        quantity=2,
                        unit_price=Decimal("9.90"),
                        line_amount=Decimal("19.80"),
                    )
                ],
            )
        )


@pytest.mark.parametrize(
    "amount",
    ["0.10", "0.20", "0.30", "-12.34", "1234567.89", "9999999999999999.99", "-0.01", "0.00"],
)
def test_money_round_trips_exactly_as_decimal(store_engine: Engine, amount: str) -> None:
    with session_scope(store_engine) as session:
        session.add(Customer(customer_id="c1"))
        session.flush()
        session.add(Order(order_id="o1", customer_id="c1", ordered_at=T0, amount=Decimal(amount)))
    with session_scope(store_engine) as session:
        order = session.scalars(select(Order)).one()
        assert isinstance(order.amount, Decimal)
        assert order.amount == Decimal(amount)
        assert str(order.amount) == amount
        assert order.refunded_amount == Decimal("0.00")
        assert order.status == "completed"


def test_many_amounts_round_trip_exactly(store_engine: Engine) -> None:
    rng = random.Random(20240331)
    amounts = [
        Decimal(rng.randrange(-(10**18) + 1, 10**18)).scaleb(-2) for _ in range(300)
    ]  # the whole NUMERIC(18, 2) range: exact on SQLite too (integer cents)
    with session_scope(store_engine) as session:
        session.add(Customer(customer_id="c1"))
        session.flush()
        session.add_all(
            Order(order_id=str(i), customer_id="c1", ordered_at=T0, amount=amount)
            for i, amount in enumerate(amounts)
        )
    with session_scope(store_engine) as session:
        stored = session.scalars(select(Order.amount).order_by(Order.id)).all()
    assert list(stored) == amounts
    assert sum(stored, Decimal(0)) == sum(amounts, Decimal(0))


def test_timestamps_come_back_aware_utc(store_engine: Engine) -> None:
    berlin_summer = timezone(timedelta(hours=2))
    placed = datetime(2024, 7, 1, 1, 15, 30, 123456, tzinfo=berlin_summer)
    with session_scope(store_engine) as session:
        session.add(Customer(customer_id="c1"))
        session.flush()
        session.add(Order(order_id="o1", customer_id="c1", ordered_at=placed, amount=Decimal(1)))
    with session_scope(store_engine) as session:
        order = session.scalars(select(Order)).one()
        assert order.ordered_at == placed
        assert order.ordered_at.utcoffset() == timedelta(0)
        assert order.ordered_at.hour == 23  # 01:15 in Berlin (UTC+2) is 23:15 UTC
        customer = session.scalars(select(Customer)).one()
        assert customer.created_at.tzinfo is not None
        assert customer.attributes == {}


def test_naive_timestamps_are_refused(store_engine: Engine) -> None:
    with (
        pytest.raises(StatementError, match="naive datetime"),
        session_scope(store_engine) as session,
    ):
        session.add(Customer(customer_id="c1", created_at=datetime(2024, 1, 1)))


def test_profile_and_json_round_trip(store_engine: Engine) -> None:
    _customer_with_everything(store_engine)
    with session_scope(store_engine) as session:
        customer = session.scalars(select(Customer)).one()
        assert customer.birthday == date(1990, 2, 28)
        assert customer.attributes == {"vip": True, "sizes": ["M"]}
        assert customer.score is not None
        assert customer.score.clv_12m == Decimal("123.45")
        assert [c.topic for c in customer.consents] == ["newsletter"]


def test_one_consent_per_customer_channel_topic(store_engine: Engine) -> None:
    _customer_with_everything(store_engine)
    with session_scope(store_engine) as session:  # another topic on the same channel: fine
        session.add(Consent(customer_id="c1", channel="email", topic="offers", granted=False))
    with pytest.raises(IntegrityError), session_scope(store_engine) as session:
        session.add(Consent(customer_id="c1", channel="email", topic="newsletter", granted=False))
    assert _count(store_engine, Consent) == 2


def test_consent_needs_an_existing_customer(store_engine: Engine) -> None:
    with pytest.raises(IntegrityError), session_scope(store_engine) as session:
        session.add(Consent(customer_id="ghost", channel="sms", topic="offers", granted=True))


def test_order_ids_are_unique_per_shop(store_engine: Engine) -> None:
    _customer_with_everything(store_engine)
    with session_scope(store_engine) as session:
        session.add(
            Order(shop_id="outlet", order_id="1001", customer_id="c1", ordered_at=T0, amount=1)
        )
    with pytest.raises(IntegrityError), session_scope(store_engine) as session:
        session.add(Order(order_id="1001", customer_id="c1", ordered_at=T0, amount=1))


def test_order_status_and_refunds_are_checked(store_engine: Engine) -> None:
    _customer_with_everything(store_engine)
    bad = [
        {"status": "lost"},
        {"refunded_amount": Decimal("-1.00")},
    ]
    for i, fields in enumerate(bad):
        with pytest.raises(IntegrityError), session_scope(store_engine) as session:
            session.add(
                Order(order_id=f"x{i}", customer_id="c1", ordered_at=T0, amount=1, **fields)
            )


def test_deleting_a_customer_removes_everything_about_them(store_engine: Engine) -> None:
    _customer_with_everything(store_engine, "c1")
    with session_scope(store_engine) as session:  # a second customer must be left alone
        session.add(Customer(customer_id="c2"))
        session.flush()
        session.add(Order(order_id="2001", customer_id="c2", ordered_at=T0, amount=5))
    personal = (Consent, Event, CustomerScore, Order, OrderLine)
    assert [_count(store_engine, m) for m in personal] == [1, 1, 1, 2, 1]

    with session_scope(store_engine) as session:  # plain SQL: the database cascades
        session.execute(delete(Customer).where(Customer.customer_id == "c1"))

    assert [_count(store_engine, m) for m in personal] == [0, 0, 0, 1, 0]
    assert _count(store_engine, Customer) == 1
    assert _count(store_engine, Product) == 1  # products are not personal data


def test_deleting_a_product_removes_its_history(store_engine: Engine) -> None:
    with session_scope(store_engine) as session:
        session.add(Product(sku="SKU-9", price=Decimal("4.50")))
        session.flush()
        session.add(ProductPrice(sku="SKU-9", price=Decimal("4.50"), valid_from=T0))
        session.add(ProductPrice(sku="SKU-9", price=Decimal("3.99"), valid_from=T0 + timedelta(1)))
        session.add(ProductStock(sku="SKU-9", quantity=12, recorded_at=T0))
    with session_scope(store_engine) as session:
        prices = session.scalars(select(ProductPrice.price).order_by(ProductPrice.valid_from))
        assert list(prices) == [Decimal("4.50"), Decimal("3.99")]
        session.execute(delete(Product))
    assert _count(store_engine, ProductPrice) == 0
    assert _count(store_engine, ProductStock) == 0


def test_money_with_fractions_of_a_cent_is_refused(store_engine: Engine) -> None:
    order = Order(order_id="o1", customer_id="c1", ordered_at=T0, amount=Decimal("1.005"))
    with session_scope(store_engine) as session:
        session.add(Customer(customer_id="c1"))
    with session_scope(store_engine) as session:
        session.add(order)
        with pytest.raises(StatementError, match="more than two decimals"):
            session.flush()
        session.rollback()
