"""The loyalty engine's errors a caller must see: the :class:`LedgerError` family (each
with the ``kind`` the API names its problem by) and the program errors.

They live apart from the code that raises them so that the API and the CLI can map every
one of them without importing the ledger, the points operations or the catalogue.
"""

from __future__ import annotations

from typing import Protocol

from regulars.errors import RegularsError


class NamedOrder(Protocol):
    """What names an order (:class:`regulars.loyalty.accounting.ledger.OrderRef` is one);
    a protocol, so that this module imports nothing of the engine's."""

    @property
    def shop_id(self) -> str: ...

    @property
    def order_id(self) -> str: ...


class LedgerError(RegularsError):
    """A ledger operation the caller must hear about; ``kind`` names it for the API."""

    kind = "ledger-error"


class InsufficientPointsError(LedgerError):
    kind = "insufficient-points"

    def __init__(self, requested: int, available: int) -> None:
        super().__init__(f"the account has {available} spendable points; {requested} requested")
        self.requested = requested
        self.available = available


class RedemptionCapError(LedgerError):
    kind = "redemption-cap-exceeded"

    def __init__(self, requested: int, cap: int) -> None:
        super().__init__(
            f"this order allows at most {cap} points to be redeemed; {requested} requested"
        )
        self.requested = requested
        self.cap = cap


class IdempotencyConflictError(LedgerError):
    kind = "idempotency-key-reused"

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key '{key}' was already used for a different request")
        self.key = key


class AccountClosedError(LedgerError):
    kind = "account-opted-out"


class HouseholdSpendError(LedgerError):
    """A household member may not spend this from the shared account (``owner_only``, or
    more than ``member_points_per_order`` on one order)."""

    kind = "household-spend-denied"


class OrderCancelledError(LedgerError):
    """The redemption names an order that is recorded as cancelled: nothing to pay."""

    kind = "order-cancelled"

    def __init__(self, order: NamedOrder) -> None:
        super().__init__(
            f"order '{order.order_id}' (shop '{order.shop_id}') is cancelled: "
            "points cannot be redeemed on it"
        )


class RedemptionNotFoundError(LedgerError):
    kind = "not-found"

    def __init__(self, key: str) -> None:
        super().__init__(f"no redemption with idempotency key '{key}' in this account")
        self.key = key


class ProgramError(RegularsError):
    """A program that cannot be created or found."""


class ControlGroupError(ProgramError):
    """The customer is in the program's control group: no account, no points."""
