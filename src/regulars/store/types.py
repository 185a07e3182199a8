"""Column types shared by the store's models.

* :data:`MONEY` is ``NUMERIC(18, 2)`` read back as :class:`~decimal.Decimal`, never float.
  SQLite would keep a ``NUMERIC`` value as a binary float (REAL), so there it is stored as
  an integer number of cents (minor units), which SQLite keeps exactly.
* :class:`UTCDateTime` accepts only timezone-aware datetimes, stores them in UTC and always
  returns aware UTC datetimes, on SQLite (which has no time zones) as on PostgreSQL.
* :data:`JSON_DOC` is ``JSONB`` on PostgreSQL and ``JSON`` (text) elsewhere.
* :data:`BIG_ID` is ``BIGINT`` on PostgreSQL and ``INTEGER`` on SQLite, where only an
  ``INTEGER PRIMARY KEY`` auto-increments.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, Numeric
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

_CENT = Decimal("0.01")


class Money(TypeDecorator[Decimal]):
    """``NUMERIC(18, 2)``; integer cents on SQLite (exact there too, whatever the size).

    Values with more than two decimals are refused rather than rounded: a rounding rule
    belongs to whoever produced the amount, not to storage.
    """

    impl = Numeric(18, 2, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # On SQLite the cents travel as plain integers: Numeric's own result processing
        # would pass them through a float.
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(value)
        if amount != amount.quantize(_CENT):
            raise ValueError(f"money {value!r} has more than two decimals")
        if dialect.name == "sqlite":
            return int(amount.scaleb(2))
        return amount.quantize(_CENT)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            # Stored cents are integers; an amount computed in SQL (money × a probability)
            # comes back as a float and is rounded to the cent.
            cents = Decimal(value) if isinstance(value, int) else Decimal(str(value))
            return cents.scaleb(-2).quantize(_CENT)
        return Decimal(value).quantize(_CENT)


MONEY = Money()
JSON_DOC: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")
BIG_ID: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE`` that is always UTC on the Python side.

    Naive datetimes are refused: a wall-clock time without a zone is ambiguous, and
    guessing is how off-by-some-hours bugs are born.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: store timezone-aware (UTC) datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":  # stored as ISO text; keep it UTC and sortable
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def one_of(column: str, values: tuple[str, ...]) -> str:
    """The SQL of a ``CHECK`` that ``column`` holds one of ``values`` (constants of the code,
    never user input): ``status IN ('a', 'b')``."""
    return "{} IN ({})".format(column, ", ".join(f"'{v}'" for v in values))
