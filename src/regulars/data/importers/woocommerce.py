"""WooCommerce order exports.

WooCommerce has no built-in order CSV; shops use an export plugin. Recognised headers
cover the common ones: "Advanced Order Export For WooCommerce" (``Order Number``,
``Order Date``, ``Order Status``, ``Email (Billing)``, ``Order Total Amount``,
``Order Refund Amount``, ``Item Name``, ``Quantity (- Refund)``, ``Item Cost``, ``SKU``),
"Customer/Order/Coupon Export" and WebToffee's "Order Export & Import"
(``order_id``, ``order_number``, ``order_date``, ``paid_date``, ``status``,
``order_total``, ``customer_id``, ``billing_email``, ``billing_phone``, …) and
hand-made layouts with ``Billing Email Address``, ``Customer User ID``, ``Order Total``.
With a row per line item the file yields order lines too; packed item columns such as
WebToffee's ``line_item_1`` are not split into lines.
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
from regulars.data.importers.mapping import normalize_header

ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("Order Number", "Order ID", "Order #", "order_number", "order_id"),
    "customer_id": (
        "Customer User ID",
        "Customer ID",
        "Customer User",
        "customer_user",
        "customer_id",
        "User ID",
    ),
    "email": (
        "Billing Email Address",
        "Billing Email",
        "Email (Billing)",
        "billing_email",
        "Customer Email",
        "customer_email",
        "Customer User Email",
        "Email",
    ),
    "phone": ("Billing Phone", "Billing Phone Number", "Phone (Billing)", "billing_phone", "Phone"),
    "name": ("Billing Full Name", "Full Name (Billing)", "Customer Name"),
    "ordered_at": (
        "Paid Date",
        "Date Paid",
        "paid_date",
        "Order Date",
        "Date Created",
        "order_date",
        "Date",
    ),
    "amount": ("Order Total Amount", "Order Total", "order_total", "Total"),
    "refunded_amount": (
        "Order Refund Amount",
        "Refund Amount",
        "Order Refunded Amount",
        "Refunded Total",
        "refunded_total",
        "order_refund",
        "Total Refunded",
    ),
    "status": ("Order Status", "Status"),
    "currency": ("Order Currency", "order_currency", "Currency"),
    "channel": ("Created Via", "created_via", "Order Source", "Origin"),
    "product_name": ("Item Name", "Product Name", "item_name"),
    "sku": ("SKU", "Item SKU", "Product SKU", "item_sku"),
    "category": ("Category", "Product Categories", "Item Category"),
    "quantity": ("Quantity", "Quantity (- Refund)", "Item Quantity", "Qty", "item_quantity"),
    "unit_price": (
        "Item Cost",
        "Item Price",
        "Product Price",
        "Unit Price",
        "item_price",
        "item_cost",
    ),
    "line_amount": ("Order Line Total", "Item Total", "Line Total", "item_total", "line_total"),
}

#: Orders that never became a purchase (unpaid, failed, drafts, trash) count as
#: cancelled; every other status, plugin-made ones included, is a completed purchase.
STATUS = StatusRule(
    values={
        "refunded": REFUNDED,
        "partially_refunded": PARTIAL,
        **dict.fromkeys(
            (
                "cancelled",
                "failed",
                "pending",
                "pending_payment",
                "trash",
                "draft",
                "checkout_draft",
                "auto_draft",
            ),
            CANCELLED,
        ),
    },
    default=COMPLETED,
)

WOOCOMMERCE = Preset(
    name="woocommerce",
    aliases=ALIASES,
    status=STATUS,
    first_name=("Billing First Name", "First Name (Billing)", "billing_first_name"),
    last_name=("Billing Last Name", "Last Name (Billing)", "billing_last_name"),
)

_ORDER_IDS = {normalize_header(h) for h in ALIASES["order_id"]}
#: Headers a plain canonical file would not have; two of them mark a WooCommerce export.
_MARKERS = {
    normalize_header(h)
    for h in (
        "Order Number",
        "Order Status",
        "Order Total Amount",
        "Order Total",
        "Order Refund Amount",
        "Billing Email Address",
        "Billing Email",
        "Email (Billing)",
        "billing_email",
        "Customer User ID",
        "customer_user",
        "Billing First Name",
        "First Name (Billing)",
        "billing_first_name",
        "Order Currency",
        "order_currency",
        "Paid Date",
        "paid_date",
        "Item Cost",
        "Item Name",
    )
}


def looks_like_woocommerce(headers: list[str]) -> bool:
    """An order id header plus at least two WooCommerce-specific headers."""
    keys = set(header_index(headers))
    return bool(keys & _ORDER_IDS) and len(keys & _MARKERS) >= 2
