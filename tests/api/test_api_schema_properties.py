"""Property-based tests of the request schemas: whatever arrives, a body is either valid,
and then inside the documented limits (regulars.limits) and unchanged, or refused with a
ValidationError (a 422 naming the field), never another exception (a 500)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from regulars import limits
from regulars.api.schemas import In, Money, TimeZone, UTCTime
from regulars.api.schemas.loyalty import RedeemIn
from regulars.api.schemas.orders import OrderIn


def _subclasses(cls: type[BaseModel]) -> list[type[BaseModel]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


REQUEST_BODIES = sorted(_subclasses(In), key=lambda c: c.__name__)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
OFFSETS = st.integers(min_value=-1439, max_value=1439).map(lambda m: timezone(timedelta(minutes=m)))


@pytest.mark.parametrize("model", REQUEST_BODIES, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(body=st.dictionaries(st.text(max_size=12), JSON, max_size=6))
def test_any_json_body_is_valid_or_a_validation_error(model: type[In], body: Any) -> None:
    # Any other exception fails the test: it would be a 500.
    with contextlib.suppress(ValidationError):
        model.model_validate(body)


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(timezones=OFFSETS))
def test_an_instant_is_kept_exactly_or_refused(moment: datetime) -> None:
    offset = moment.utcoffset()
    assert offset is not None
    inside = abs(offset) <= timedelta(minutes=limits.MAX_OFFSET_MINUTES)
    inside = inside and limits.EARLIEST <= moment < limits.LATEST
    try:
        stored = TypeAdapter(UTCTime).validate_python(moment.isoformat())
    except ValidationError:
        assert not inside
        return
    assert inside
    assert stored == moment
    assert stored.tzinfo == UTC


@settings(max_examples=300, deadline=None)
@given(amount=st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_money_is_kept_exactly_or_refused(amount: Decimal) -> None:
    inside = abs(amount) <= limits.MAX_MONEY and amount == amount.quantize(Decimal("0.01"))
    try:
        stored = TypeAdapter(Money).validate_python(str(amount))
    except ValidationError:
        assert not inside
        return
    assert inside
    assert stored == amount


@settings(max_examples=200, deadline=None)
@given(points=JSON)
def test_points_are_json_integers_only(points: Any) -> None:
    try:
        body = RedeemIn.model_validate({"points": points})
    except ValidationError:
        return
    assert type(points) is int
    assert body.points == points


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(limits.known_time_zones())) | st.text(max_size=30))
def test_a_time_zone_is_a_known_iana_name(name: str) -> None:
    try:
        TypeAdapter(TimeZone).validate_python(name)
    except ValidationError:
        assert name not in limits.known_time_zones()
        return
    assert name in limits.known_time_zones()


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(0, 10**6), refunded=st.integers(0, 10**6))
def test_a_refund_never_exceeds_its_order(amount: int, refunded: int) -> None:
    body = {
        "order_id": "o",
        "customer_id": "c",
        "ordered_at": "2026-01-01T00:00:00Z",
        "amount": str(Decimal(amount) / 100),
        "refunded_amount": str(Decimal(refunded) / 100),
    }
    if refunded <= amount:
        assert OrderIn.model_validate(body).refunded_amount == Decimal(refunded) / 100
        return
    with pytest.raises(ValidationError) as refused:
        OrderIn.model_validate(body)
    assert [e["loc"] for e in refused.value.errors()] == [("refunded_amount",)]
