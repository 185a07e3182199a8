"""Birthday and holiday gifts around local midnight, across time zones and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from regulars.loyalty.program_types.gifts import GiftCustomer, GiftsConfig, birthday_in, due_gifts
from regulars.loyalty.program_types.outcomes import Earn, Gift

GIFTS = GiftsConfig.model_validate(
    {
        "type": "gifts",
        "birthday": {"reward": {"points": 200}, "valid_days": 7},
        "holidays": [
            {
                "code": "xmas",
                "dates": ["2026-12-25", "2027-12-25"],
                "reward": {"gift": "voucher-10"},
            }
        ],
        "points_expiry_days": 30,
    }
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def keys(customer: GiftCustomer, now: datetime) -> list[str]:
    return [g.key for g in due_gifts(GIFTS, customer, now)]


def test_birthday_starts_at_local_midnight_on_the_dst_day() -> None:
    """Berlin moves to CEST on 29 Mar 2026 at 01:00 UTC, so 30 Mar starts at 22:00 UTC on
    29 Mar: 21:59:59 UTC is still the 29th there, 22:00 UTC is the birthday."""
    eva = GiftCustomer("eva", date(1990, 3, 30), "Europe/Berlin")
    assert keys(eva, utc(2026, 3, 29, 21, 59, 59)) == []
    [gift] = due_gifts(GIFTS, eva, utc(2026, 3, 29, 22))
    assert isinstance(gift, Earn)
    assert (gift.key, gift.points) == ("birthday:eva:2026", 200)
    assert gift.available_at == utc(2026, 3, 29, 22)
    assert gift.expires_at == utc(2026, 4, 28, 22)
    # Every run inside the window builds the very same outcome, so the ledger applies it once.
    assert due_gifts(GIFTS, eva, utc(2026, 4, 2, 8)) == [gift]
    # Valid 7 local days: 30 Mar … 5 Apr; gone from 6 Apr 00:00 CEST = 5 Apr 22:00 UTC.
    assert keys(eva, utc(2026, 4, 5, 21, 59)) == ["birthday:eva:2026"]
    assert keys(eva, utc(2026, 4, 5, 22)) == []


def test_birthday_on_the_day_new_york_leaves_dst() -> None:
    """1 Nov 2026 00:00 in New York is still EDT (UTC−4) = 04:00 UTC."""
    sam = GiftCustomer("sam", date(1985, 11, 1), "America/New_York")
    assert keys(sam, utc(2026, 11, 1, 3, 59)) == []
    assert keys(sam, utc(2026, 11, 1, 4)) == ["birthday:sam:2026"]


def test_holiday_reaches_auckland_before_los_angeles() -> None:
    """25 Dec starts at 11:00 UTC on the 24th in Auckland (NZDT, UTC+13) and at 08:00 UTC
    on the 25th in Los Angeles (PST, UTC−8); valid one local day."""
    kiri = GiftCustomer("kiri", None, "Pacific/Auckland")
    lee = GiftCustomer("lee", None, "America/Los_Angeles")
    moment = utc(2026, 12, 24, 11)
    assert keys(kiri, moment) == ["holiday:xmas:kiri:2026-12-25"]
    assert keys(lee, moment) == []
    assert keys(lee, utc(2026, 12, 25, 8)) == ["holiday:xmas:lee:2026-12-25"]
    assert keys(kiri, utc(2026, 12, 25, 11)) == []
    [gift] = due_gifts(GIFTS, lee, utc(2026, 12, 25, 9))
    assert isinstance(gift, Gift)
    assert gift.gift == "voucher-10"


def test_no_time_zone_uses_the_program_default() -> None:
    config = GIFTS.model_copy(update={"default_time_zone": "Asia/Tokyo"})
    ken = GiftCustomer("ken", date(2000, 7, 1))
    assert [g.key for g in due_gifts(config, ken, utc(2026, 6, 30, 15))] == ["birthday:ken:2026"]
    assert keys(ken, utc(2026, 6, 30, 15)) == []  # UTC default: still 30 June


def test_february_29th() -> None:
    """Born 29 Feb: 28 Feb (default) or 1 Mar in common years, 29 Feb in leap years."""
    leap = date(2004, 2, 29)
    assert birthday_in(2027, leap) == date(2027, 2, 28)
    assert birthday_in(2027, leap, "mar1") == date(2027, 3, 1)
    assert birthday_in(2028, leap, "mar1") == date(2028, 2, 29)
    lou = GiftCustomer("lou", leap, "UTC")
    assert keys(lou, utc(2027, 2, 28)) == ["birthday:lou:2027"]
    mar1 = GIFTS.model_copy(
        update={"birthday": GIFTS.birthday.model_copy(update={"feb29": "mar1"})}  # type: ignore[union-attr]
    )
    assert due_gifts(mar1, lou, utc(2027, 2, 28, 23)) == []
    assert [g.key for g in due_gifts(mar1, lou, utc(2027, 3, 1))] == ["birthday:lou:2027"]


def test_validity_window_crosses_new_year_with_last_years_key() -> None:
    """Born 30 Dec, valid 7 days: 30 Dec 2026 … 5 Jan 2027, keyed with 2026."""
    noa = GiftCustomer("noa", date(1999, 12, 30), "UTC")
    assert keys(noa, utc(2027, 1, 3)) == ["birthday:noa:2026"]
    assert keys(noa, utc(2027, 1, 5, 23, 59)) == ["birthday:noa:2026"]
    assert keys(noa, utc(2027, 1, 6)) == []


def test_unknown_time_zone_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown IANA time zone 'Mars/Olympus'"):
        due_gifts(GIFTS, GiftCustomer("x", None, "Mars/Olympus"), utc(2026, 1, 1))
    with pytest.raises(ValueError, match="unknown IANA time zone"):
        GiftsConfig(default_time_zone="Nowhere/City")
