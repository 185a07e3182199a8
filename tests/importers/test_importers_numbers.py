"""Money and quantity parsing: decimal commas, thousands separators, currencies, signs."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regulars.data.importers.numbers import (
    choose_decimal,
    currency_hint,
    parse_integer,
    parse_money,
)


def money(values: list[str | None], decimal: str | None = None) -> list[Decimal | None]:
    return parse_money(pa.array(values, pa.string()), decimal).values.to_pylist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("€12.50", "12.50"),
        ("$1,200", "1200.00"),
        ("USD 10", "10.00"),
        ("(5.00)", "-5.00"),
        ("5.00-", "-5.00"),
        ("−3.10", "-3.10"),
        ("+7", "7.00"),
        (".5", "0.50"),
        ("1'234.50", "1234.50"),
        ("12.345", "12.35"),
        ("-0.005", "-0.01"),
        ("0.30000000000000004", "0.30"),
    ],
)
def test_dot_decimal_spellings(text: str, expected: str) -> None:
    assert money([text], ".") == [Decimal(expected)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234,56", "1234.56"),
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("1\u202f234,56", "1234.56"),
        ("12,50 ₽", "12.50"),
        ("10 руб.", "10.00"),
        ("EUR 1.234,56", "1234.56"),
        ("99", "99.00"),
    ],
)
def test_comma_decimal_spellings(text: str, expected: str) -> None:
    assert money([text], ",") == [Decimal(expected)]


@pytest.mark.parametrize("text", ["abc", "n/a", "1e5", "12,3,4", "1.2.3", "--5", "€", "9" * 17])
def test_rubbish_is_invalid_not_guessed(text: str) -> None:
    parsed = parse_money(pa.array([text]))
    assert parsed.values.to_pylist() == [None]
    assert parsed.invalid.to_pylist() == [True]


def test_empty_and_null_are_missing_not_invalid() -> None:
    parsed = parse_money(pa.array(["", "   ", None], pa.string()))
    assert parsed.values.to_pylist() == [None, None, None]
    assert parsed.invalid.to_pylist() == [False, False, False]


def test_the_column_decides_the_decimal_separator() -> None:
    assert choose_decimal(pa.array(["1.234,56", "12,50", "1.000"])) == ","
    assert choose_decimal(pa.array(["1,234.56", "12.50", "1,000"])) == "."
    # "1,234" and "1.234" alone fit both readings: three digits after one separator
    # make it a thousands separator, so both mean one thousand two hundred thirty-four.
    assert choose_decimal(pa.array(["1,234", "5"])) == "."
    assert choose_decimal(pa.array(["1.234", "2.000", "5"])) == ","
    assert money(["1.234", "2.000", "5"]) == [
        Decimal("1234.00"),
        Decimal("2000.00"),
        Decimal("5.00"),
    ]
    assert money(["2.000", "3.000"]) == [Decimal("2000.00"), Decimal("3000.00")]
    assert money(["1,234", "12,50"]) == [Decimal("1.23"), Decimal("12.50")]


def test_values_of_the_other_convention_are_rejected_not_misread() -> None:
    values = money(["12,50", "13,75", "9.99"])
    assert values == [Decimal("12.50"), Decimal("13.75"), None]


def test_typed_numbers_from_parquet_or_excel() -> None:
    assert parse_money(pa.array([1.5, 2.25, None])).values.to_pylist() == [
        Decimal("1.50"),
        Decimal("2.25"),
        None,
    ]
    assert parse_money(pa.array([3, -4])).values.to_pylist() == [Decimal("3.00"), Decimal("-4.00")]


def test_integers() -> None:
    parsed = parse_integer(pa.array(["1", "2.0", "3,00", "-1", " 4 ", "1,000", "1.5", "x", None]))
    assert parsed.values.to_pylist() == [1, 2, 3, -1, 4, None, None, None, None]
    assert parsed.invalid.to_pylist() == [False] * 5 + [True, True, True, False]


def test_currency_hint() -> None:
    hints = currency_hint(pa.array(["€12.50", "$5", "12,50 ₽", "USD 10", "10 руб.", "12.00", None]))
    assert hints.to_pylist() == ["EUR", None, "RUB", "USD", "RUB", None, None]


@settings(max_examples=60, deadline=None)
@given(
    st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False),
    st.sampled_from(["en", "de", "fr", "ch"]),
)
def test_any_amount_written_in_any_convention_reads_back(value: Decimal, style: str) -> None:
    sign = "-" if value < 0 else ""
    whole, cents = f"{abs(value):.2f}".split(".")
    groups = f"{int(whole):,}"
    dotted, spaced, quoted = (groups.replace(",", sep) for sep in (".", "\u202f", "'"))
    text = {
        "en": f"{sign}{groups}.{cents}",
        "de": f"{sign}{dotted},{cents} €",
        "fr": f"{sign}{spaced},{cents}",
        "ch": f"{sign}CHF {quoted}.{cents}",
    }[style]
    decimal = "," if style in {"de", "fr"} else "."
    assert money([text], decimal) == [value]
