"""Numbers, money, rates and dates for people, in the shop's locale (Babel).

The report's HTML and the command line show ``€1,234.50`` or ``1.234,50 €``, ``1,959``
or ``1.959``, ``95.3%`` or ``95,3 %`` as the locale writes them (``locale`` setting, a
CLDR name such as ``en_US`` or ``de_DE``; the currency is the orders' ISO code unless
``currency`` is set). Machine outputs — metrics.json, CSV — never go through here: they
keep plain numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import (
    format_currency,
    format_decimal,
    format_percent,
    get_currency_name,
)

from regulars.errors import RegularsError

MISSING = "n/a"
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _number(value: Any) -> float | Decimal | None:
    """A finite number, or None for None, NaN and infinities."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Formatter:
    """Formats for one locale and currency; build it with :meth:`of`."""

    locale: Locale
    currency: str | None = None

    @classmethod
    def of(cls, locale: str, currency: str | None = None) -> Formatter:
        """The formatter for ``locale``; a clear error for an unknown locale or a currency
        that is not an ISO 4217 code."""
        try:
            parsed = Locale.parse(locale.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError):
            raise RegularsError(
                f"unknown locale '{locale}'; use a name like en_US, de_DE or fr_FR"
            ) from None
        code = currency.strip().upper() if currency else None
        if code is not None and (
            not _CURRENCY.match(code) or get_currency_name(code, locale=parsed) == code
        ):
            raise RegularsError(f"unknown currency '{currency}'; use an ISO code like EUR or USD")
        return cls(parsed, code)

    def money(self, value: Any) -> str:
        """An amount with the currency symbol (when known) and two decimals."""
        number = _number(value)
        if number is None:
            return MISSING
        if self.currency is None:
            return format_decimal(number, format="#,##0.00", locale=self.locale)
        return format_currency(number, self.currency, locale=self.locale)

    def count(self, value: Any) -> str:
        """A whole number with thousands separators."""
        number = _number(value)
        return MISSING if number is None else format_decimal(round(number), locale=self.locale)

    def number(self, value: Any, digits: int = 2) -> str:
        """A number with ``digits`` decimals and thousands separators."""
        number = _number(value)
        if number is None:
            return MISSING
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(number, format=pattern, locale=self.locale)

    def pct(self, value: Any, digits: int = 1) -> str:
        """A rate given in percent (95.25 → ``95.3%``), in the locale's percent style."""
        number = _number(value)
        if number is None:
            return MISSING
        pattern = self.locale.percent_formats[None].pattern
        if digits:
            pattern = re.sub(r"0(?=[^0#]*$)", "0." + "0" * digits, pattern, count=1)
        return format_percent(float(number) / 100.0, format=pattern, locale=self.locale)

    def share(self, value: Any, digits: int = 0) -> str:
        """A share given as a fraction (0.82 → ``82%``)."""
        number = _number(value)
        return MISSING if number is None else self.pct(float(number) * 100.0, digits)

    def points(self, value: Any, digits: int = 1) -> str:
        """A difference of two rates in percentage points, signed: ``+1.0 pts``."""
        number = _number(value)
        if number is None:
            return MISSING
        text = self.number(abs(float(number)), digits)
        sign = "+" if float(number) > 0 else "−" if float(number) < 0 else "±"
        return f"{sign}{text} pts"

    def month(self, value: date | str | None) -> str:
        """The month of a date (or ISO date text), short: ``Nov 2026``, ``нояб. 2026``."""
        if value is None:
            return MISSING
        day = date.fromisoformat(value) if isinstance(value, str) else value
        return format_date(day, format="LLL y", locale=self.locale)

    def day(self, value: date | str | None) -> str:
        """A date (or ISO date text) in the locale's medium style (``Nov 1, 2026``,
        ``01.11.2026``)."""
        if value is None:
            return MISSING
        day = date.fromisoformat(value) if isinstance(value, str) else value
        return format_date(day, format="medium", locale=self.locale)
