"""The Shopify orders export (Admin → Orders → Export, "CSV for Excel/Numbers or plain").

One row per line item. ``Name`` (``#1001``) is the order number and is repeated on every
row; order-level fields (``Email``, ``Financial Status``, ``Paid at``, ``Total``,
``Refunded Amount``, ``Currency``, ``Cancelled at``, ``Source`` …) are filled on the
order's first row only. The export has no customer id: customers are keyed by email,
else phone. Timestamps carry their offset (``2024-03-05 14:02:11 +0100``).
"""

from __future__ import annotations

from regulars.data.importers.formats import (
    CANCELLED,
    COMPLETED,
    PARTIAL,
    REFUNDED,
    Preset,
    StatusRule,
    header_index,
)

ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("Name",),
    "email": ("Email",),
    "phone": ("Phone", "Billing Phone", "Shipping Phone"),
    "name": ("Billing Name", "Shipping Name"),
    "ordered_at": ("Paid at", "Created at"),
    "amount": ("Total",),
    "refunded_amount": ("Refunded Amount",),
    "status": ("Financial Status",),
    "currency": ("Currency",),
    "channel": ("Source",),
    "sku": ("Lineitem sku",),
    "product_name": ("Lineitem name",),
    "quantity": ("Lineitem quantity",),
    "unit_price": ("Lineitem price",),
    "line_discount": ("Lineitem discount",),
}

#: Financial statuses: refunds map to themselves, voided/expired authorisations were never
#: paid; paid, pending, authorized and partially_paid orders count as purchases.
STATUS = StatusRule(
    values={
        "refunded": REFUNDED,
        "partially_refunded": PARTIAL,
        "voided": CANCELLED,
        "expired": CANCELLED,
    },
    default=COMPLETED,
    cancelled_columns=("Cancelled at",),
)

SHOPIFY = Preset(name="shopify", aliases=ALIASES, status=STATUS, line_level=True)


def looks_like_shopify(headers: list[str]) -> bool:
    """``Name`` plus ``Financial Status`` or ``Paid at`` plus ``Lineitem …`` columns."""
    index = header_index(headers)
    has_lineitems = any(key.startswith("lineitem_") for key in index)
    return "name" in index and ("financial_status" in index or "paid_at" in index) and has_lineitems
