"""Field types shared by the program configs."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
"""A stable identifier used inside idempotency keys (no ``:``, no spaces)."""

Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
Pct = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]
Multiplier = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=6)]
Points = Annotated[int, Field(ge=1)]
