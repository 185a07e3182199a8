"""The canonical CSV layout (``customer_id, order_id, ordered_at, amount`` …) and the
generic column names recognised without a mapping. An explicit ``--map`` starts from
these names too, so only the columns that differ need mapping."""

from __future__ import annotations

from regulars.data.importers.formats import (
    CANCELLED,
    COMPLETED,
    PARTIAL,
    REFUNDED,
    Preset,
    StatusRule,
)

ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("order_id", "order_number", "order_no"),
    "customer_id": ("customer_id", "client_id", "customer_number"),
    "ordered_at": ("ordered_at", "order_date", "date", "order_datetime", "purchased_at"),
    "amount": ("amount", "total", "order_total", "order_amount"),
    "refunded_amount": ("refunded_amount", "refund_amount", "refunded"),
    "status": ("status", "order_status"),
    "currency": ("currency", "currency_code"),
    "channel": ("channel", "sales_channel"),
    "email": ("email", "e_mail", "email_address", "customer_email"),
    "phone": ("phone", "phone_number", "mobile", "telephone", "customer_phone"),
    "name": ("name", "customer_name", "full_name"),
    "birthday": ("birthday", "birth_date", "date_of_birth", "dob"),
    "acquisition_channel": ("acquisition_channel",),
    "created_at": ("customer_created_at", "registered_at", "signup_date"),
    "sku": ("sku", "product_sku"),
    "product_name": ("product_name", "product", "item_name"),
    "category": ("category", "product_category"),
    "quantity": ("quantity", "qty"),
    "unit_price": ("unit_price", "price", "item_price"),
    "line_amount": ("line_amount", "line_total"),
    "line_discount": ("line_discount",),
}

#: Status words accepted in canonical and mapped files; anything else is rejected.
STATUS = StatusRule(
    values={
        **dict.fromkeys(
            (
                "completed",
                "complete",
                "paid",
                "processing",
                "fulfilled",
                "shipped",
                "delivered",
                "closed",
                "done",
                "success",
                "successful",
                "authorized",
                "partially_paid",
                "on_hold",
                "open",
                "ok",
                "sale",
            ),
            COMPLETED,
        ),
        **dict.fromkeys(("refunded", "returned", "return"), REFUNDED),
        **dict.fromkeys(("partially_refunded", "partial_refund", "partly_refunded"), PARTIAL),
        **dict.fromkeys(
            ("cancelled", "canceled", "voided", "void", "failed", "expired"), CANCELLED
        ),
    },
)

CANONICAL = Preset(name="canonical", aliases=ALIASES, status=STATUS)
MAPPED = Preset(name="mapped", aliases=ALIASES, status=STATUS)
