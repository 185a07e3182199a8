"""Who bought: customer ids, emails and phones normalised so that one person is one key.

Precedence for ``customer_id`` (documented in ``docs/data-model.md``):

1. the shop's customer id, when the row has one (``"0"`` means a guest and is ignored);
2. the shop's customer id seen on another order with the same email, then the same phone
   (so a guest checkout and a later account purchase join up);
3. the normalised email (trimmed, lower case);
4. the normalised phone (digits, with a leading ``+`` when the number was international).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from regulars.data.importers.numbers import as_text

#: Ids that shop systems write for "no customer account".
GUEST_IDS = ("0", "-1", "guest")
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_MIN_PHONE_DIGITS = 5
_LONGEST_GUEST_ID = max(len(g) for g in GUEST_IDS)


def _null_where(values: pa.Array, mask: pa.Array) -> pa.Array:
    if not pc.any(mask).as_py():
        return values
    return pc.if_else(pc.fill_null(mask, False), pa.scalar(None, values.type), values)


def normalize_customer_id(values: pa.Array) -> pa.Array:
    """Trimmed text ids; guest markers become null."""
    text = as_text(values)
    if pc.any(pc.match_substring(text, ".0")).as_py():
        text = pc.replace_substring_regex(text, r"^(\d+)\.0+$", r"\1")  # 123.0 from Excel
    # Only short ids can be guest markers: lower-case those, not millions of real ids.
    short = pc.fill_null(pc.less_equal(pc.utf8_length(text), _LONGEST_GUEST_ID), False)
    if not pc.any(short).as_py():
        return text
    guest = pc.is_in(pc.utf8_lower(pc.if_else(short, text, None)), pa.array(GUEST_IDS))
    return _null_where(text, guest)


def normalize_email(values: pa.Array) -> pa.Array:
    """Trimmed, lower-case email; text that is not an address becomes null."""
    text = pc.utf8_lower(as_text(values))
    text = pc.replace_substring_regex(text, r"^mailto:", "")
    return _null_where(text, pc.invert(pc.match_substring_regex(text, _EMAIL)))


def normalize_phone(values: pa.Array) -> pa.Array:
    """Digits only, ``+`` kept for international numbers (``00`` prefix becomes ``+``).

    Numbers written without a country code stay as written (no country is guessed);
    fewer than five digits is not a phone number.
    """
    text = pc.replace_substring_regex(as_text(values), r"^'", "")  # Excel text marker
    international = pc.fill_null(pc.match_substring_regex(text, r"^\s*(\+|00)"), False)
    digits = pc.replace_substring_regex(text, r"\D", "")
    digits = pc.if_else(international, pc.replace_substring_regex(digits, r"^00", ""), digits)
    phone = pc.if_else(international, pc.binary_join_element_wise("+", digits, ""), digits)
    return _null_where(phone, pc.less(pc.utf8_length(digits), _MIN_PHONE_DIGITS))


def clean_text(values: pa.Array) -> pa.Array:
    """Free text (names, product names): trimmed, inner runs of whitespace collapsed."""
    return pc.replace_substring_regex(as_text(values), r"\s{2,}", " ")
