from datetime import date

import pytest

from regulars.analytics.periods import (
    last_complete_period,
    period_floor,
    period_label,
    shift_periods,
)


@pytest.mark.parametrize(
    ("day", "period", "expected"),
    [
        (date(2026, 11, 23), "week", date(2026, 11, 23)),  # a Monday
        (date(2026, 11, 29), "week", date(2026, 11, 23)),  # the Sunday after
        (date(2026, 11, 23), "month", date(2026, 11, 1)),
        (date(2026, 11, 23), "quarter", date(2026, 10, 1)),
        (date(2026, 3, 31), "quarter", date(2026, 1, 1)),
        (date(2026, 11, 23), "year", date(2026, 1, 1)),
    ],
)
def test_period_floor(day: date, period: str, expected: date) -> None:
    assert period_floor(day, period) == expected  # type: ignore[arg-type]


def test_shift_crosses_year_boundaries() -> None:
    assert shift_periods(date(2026, 11, 1), "month", 3) == date(2027, 2, 1)
    assert shift_periods(date(2026, 1, 1), "quarter", -1) == date(2025, 10, 1)
    assert shift_periods(date(2026, 11, 23), "week", -2) == date(2026, 11, 9)


def test_last_complete_period_excludes_the_running_one() -> None:
    assert last_complete_period(date(2026, 11, 23), "month") == (
        date(2026, 10, 1),
        date(2026, 11, 1),
    )
    # as_of on a boundary: the period just finished is complete
    assert last_complete_period(date(2026, 11, 1), "month") == (
        date(2026, 10, 1),
        date(2026, 11, 1),
    )


def test_labels() -> None:
    assert period_label(date(2026, 2, 9), "week") == "2026-W07"
    assert period_label(date(2026, 4, 1), "quarter") == "2026-Q2"
