"""The people of the privacy tests."""

from __future__ import annotations

from datetime import UTC, datetime

TEST_SECRET = "test-secret-0123456789abcdef0123456789abcdef"

ANNA = {
    "customer_id": "anna-4711",
    "email": "anna.schmidt@example.com",
    "phone": "+49 151 2345678",
    "name": "Anna Schmidt",
}
OLD_ID = "anna-old-0815"  # merged into anna-4711 before
BOB = {"customer_id": "bob-1", "email": "bob@example.org", "phone": "+1 555 0100", "name": "Bob"}
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
