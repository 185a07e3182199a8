"""The shop's name, time zone, currency and locale as the owner set them in the web app.

They live in ``shop_settings`` (one row) and take precedence over the environment and
``regulars.toml`` (:class:`regulars.config.Settings`): :func:`effective` is what the code
that reads a time zone, a currency or a locale asks for. A value left empty falls back to
the environment, then to the default.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.numbers import list_currencies
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.config import Settings
from regulars.errors import RegularsError
from regulars.store.audit import record
from regulars.store.tables import ShopSettings

ROW_ID = 1
FIELDS = ("name", "timezone", "currency", "locale")


class InvalidShopSettingsError(RegularsError):
    """Values that cannot be saved, each field with its reason."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class ShopValues:
    """What the owner typed (empty: use the environment's value)."""

    name: str = ""
    timezone: str = ""
    currency: str = ""
    locale: str = ""


@cache
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _clean(values: ShopValues) -> tuple[dict[str, str | None], dict[str, str]]:
    """The values to store (None: not set) and the errors of those that are not valid."""
    errors: dict[str, str] = {}
    name = values.name.strip()
    if len(name) > 255:
        errors["name"] = "at most 255 characters"
    elif not name.isprintable():
        errors["name"] = "no control characters (a line break, a NUL…)"
    zone = values.timezone.strip()
    if zone and zone not in time_zones():
        errors["timezone"] = f"'{zone}' is not an IANA time zone (e.g. Europe/Chisinau)"
    currency = values.currency.strip().upper()
    if currency and currency not in list_currencies():
        errors["currency"] = f"'{currency}' is not an ISO 4217 currency code (e.g. EUR)"
    locale = values.locale.strip().replace("-", "_")
    if locale:
        try:
            locale = str(Locale.parse(locale))
        except (ValueError, UnknownLocaleError):
            errors["locale"] = f"'{values.locale.strip()}' is not a known locale (e.g. ru_RU)"
    cleaned = {"name": name, "timezone": zone, "currency": currency, "locale": locale}
    return {k: v or None for k, v in cleaned.items()}, errors


def stored(session: Session) -> ShopSettings | None:
    return session.get(ShopSettings, ROW_ID)


def save(session: Session, values: ShopValues, *, actor: str) -> ShopSettings:
    """Validate and store the shop's settings in the caller's transaction (audited with
    the fields that changed); :class:`InvalidShopSettingsError` names each bad field."""
    cleaned, errors = _clean(values)
    if errors:
        raise InvalidShopSettingsError(errors)
    row = stored(session)
    if row is None:
        row = ShopSettings(id=ROW_ID)
        session.add(row)
    changed = {k: v for k, v in cleaned.items() if getattr(row, k, None) != v}
    for key, value in cleaned.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor=actor,
        action="shop.settings.update",
        target_type="shop",
        target_id="default",
        details=changed,
    )
    return row


def overrides(session: Session) -> dict[str, str]:
    """The settings the store sets (those the owner left empty are absent)."""
    row = stored(session)
    if row is None:
        return {}
    values = {"timezone": row.timezone, "currency": row.currency, "locale": row.locale}
    return {k: v for k, v in values.items() if v}


def effective(session: Session, base: Settings | None = None) -> Settings:
    """``base`` (the environment's settings) with the store's values on top."""
    base = base or Settings()
    found = overrides(session)
    return base.model_copy(update=found) if found else base


def effective_for(engine: Engine, base: Settings | None = None) -> tuple[Settings, str | None]:
    """:func:`effective` and the shop's name, on a short session of ``engine`` (a store
    older than revision 0018 has neither: ``base`` and None)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from regulars.store.session import session_scope

    base = base or Settings()
    try:
        with session_scope(engine) as session:
            row = stored(session)
            return effective(session, base), (row.name if row is not None else None)
    except (OperationalError, ProgrammingError):
        return base, None
