"""What a program decides, as plain values the ledger applies later.

Every outcome carries an idempotency ``key``: applying the same outcome twice must be a
no-op, so a program function can be re-run over the same history (a retry, a worker
restart, the simulator) without granting anything twice. Keys are documented per program
in ``docs/loyalty-programs.md``; they are built from stable ids only (customer, order,
program code, year …), never from the time of the run.

Points are ``int``, money is :class:`~decimal.Decimal`, times are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from regulars.loyalty.program_types.timeutil import require_utc


@dataclass(frozen=True)
class Earn:
    """Credit ``points`` to the customer's account as one earn lot."""

    key: str
    points: int
    reason: str
    available_at: datetime
    expires_at: datetime | None

    def __post_init__(self) -> None:
        if self.points <= 0:
            raise ValueError(f"Earn {self.key}: points must be positive, got {self.points}")
        require_utc(self.available_at, "available_at")
        if self.expires_at is not None:
            require_utc(self.expires_at, "expires_at")
            if self.expires_at <= self.available_at:
                raise ValueError(f"Earn {self.key}: expires_at must be after available_at")


@dataclass(frozen=True)
class Debit:
    """Take ``points`` from the customer's account (a donation, a partner redemption)."""

    key: str
    points: int
    reason: str

    def __post_init__(self) -> None:
        if self.points <= 0:
            raise ValueError(f"Debit {self.key}: points must be positive, got {self.points}")


@dataclass(frozen=True)
class Discount:
    """A discount on an order: a percentage or a fixed money amount (exactly one)."""

    reason: str
    pct: Decimal | None = None
    amount: Decimal | None = None

    def __post_init__(self) -> None:
        if (self.pct is None) == (self.amount is None):
            raise ValueError("Discount: give exactly one of pct and amount")
        if self.pct is not None and not Decimal(0) <= self.pct <= Decimal(100):
            raise ValueError(f"Discount: pct must be within 0..100, got {self.pct}")
        if self.amount is not None and self.amount < 0:
            raise ValueError(f"Discount: amount must not be negative, got {self.amount}")


@dataclass(frozen=True)
class FreeItem:
    """A voucher for ``quantity`` free items of a SKU or of a category."""

    key: str
    reason: str
    quantity: int = 1
    sku: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Gift:
    """A named gift (a product, a voucher code, a prize) handed to the customer."""

    key: str
    gift: str
    reason: str


@dataclass(frozen=True)
class Perk:
    """A standing benefit while a tier or membership lasts (e.g. ``free_delivery``)."""

    name: str


@dataclass(frozen=True)
class TierChange:
    """The customer's tier changes from ``old`` to ``new`` (None: no tier) at ``effective_at``."""

    key: str
    old: str | None
    new: str | None
    effective_at: datetime
    reason: str


@dataclass(frozen=True)
class BadgeAwarded:
    """A badge, awarded once per customer."""

    key: str
    code: str
    awarded_at: datetime


@dataclass(frozen=True)
class Charge:
    """Money the customer pays (a membership period, an upgrade's difference)."""

    key: str
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class Refund:
    """Money returned to the customer (an immediate cancellation, a downgrade's difference)."""

    key: str
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class Revoke:
    """Cancel an earlier, not yet used outcome (e.g. a voucher whose purchases were returned)."""

    key: str
    reason: str


Outcome = (
    Earn
    | Debit
    | Discount
    | FreeItem
    | Gift
    | Perk
    | TierChange
    | BadgeAwarded
    | Charge
    | Refund
    | Revoke
)
