"""A customer's plain profile: the fields the profile hooks compare before and after a save."""

from __future__ import annotations

from typing import Any

PROFILE_FIELDS = (
    "name",
    "email",
    "phone",
    "birthday",
    "time_zone",
    "language",
    "acquisition_channel",
    "household_id",
)
"""The plain profile columns of ``customers`` (everything but the ids, ``attributes``,
consents and timestamps); the API's customer bodies carry exactly these."""


def profile_of(customer: object) -> dict[str, Any]:
    """The plain profile fields of a stored customer or a request body."""
    return {field: getattr(customer, field) for field in PROFILE_FIELDS}
