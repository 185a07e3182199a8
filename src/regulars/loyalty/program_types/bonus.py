"""Bonus / cashback points: the base earn of :mod:`regulars.loyalty.program_types.earning`
plus bonus events.

An order earns its base points (``earning.points_earned``). Multiplier bonuses (a double-points
period, a first-purchase multiplier) do not stack: the largest multiplier ``M`` that applies
to the order wins, and it earns an extra

    extra = points_earned(rules, order, tier × M) − points_earned(rules, order, tier)

so the order's total is exactly what earning at ``M`` would give (one floor). Fixed-point
bonuses add their points on top. Action bonuses (review written, profile completed) are
granted on the action, not on an order.

Keys (each bonus granted once where it should be; unique per account in the ledger):

* base earn ``order:<shop_id>:<order_id>`` (the ledger's order key);
* period bonus ``order:<shop_id>:<order_id>:bonus:<code>`` (once per order, every order in
  the period);
* first purchase ``bonus:<code>:<customer_id>`` for its multiplier part and
  ``bonus:<code>:<customer_id>:points`` for its fixed points (once per customer);
* profile completed ``bonus:<code>:<customer_id>`` (once per customer);
* review written ``bonus:<code>:<customer_id>:<subject>`` (once per reviewed subject,
  e.g. product: rewriting a review of the same product earns nothing more).

A bonus key longer than :data:`KEY_LENGTH` keeps its first characters and ends in the
SHA-256 of the whole key (:func:`bounded_key`), so any customer id or subject fits.

Order points (base and bonus) become spendable ``pending_days`` after the order (the
returns window); action points at once (there is nothing to return). A lot expires
``expiry_days`` after the order or the action (as the ledger and the simulator have it),
or never.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from regulars.loyalty.program_types.earning import PointsRules, points_earned
from regulars.loyalty.program_types.fields import Code, Multiplier, Points
from regulars.loyalty.program_types.history import Purchase
from regulars.loyalty.program_types.household import HouseholdRules
from regulars.loyalty.program_types.outcomes import Earn
from regulars.loyalty.program_types.timeutil import days, require_utc, zone

ONE = Decimal(1)
KEY_LENGTH = 255
"""Longest idempotency key the ledger stores."""


class PeriodBonus(BaseModel):
    """Extra multiplier on orders placed in a period and/or on given local weekdays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["period"] = "period"
    code: Code
    multiplier: Multiplier = Field(description="Earn multiplier in the period, e.g. 2.")
    starts_at: AwareDatetime | None = Field(None, description="First instant (inclusive).")
    ends_at: AwareDatetime | None = Field(None, description="Last instant (exclusive).")
    weekdays: frozenset[Annotated[int, Field(ge=1, le=7)]] = Field(
        frozenset(),
        description="ISO weekdays (1 = Monday) in the customer's time zone; empty: all.",
    )

    @model_validator(mode="after")
    def _period_is_ordered(self) -> PeriodBonus:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError(f"bonus {self.code}: ends_at must be after starts_at")
        return self

    def applies(self, at: datetime, tz: ZoneInfo) -> bool:
        """Whether an order at ``at`` (customer in ``tz``) falls in the bonus."""
        if self.starts_at is not None and at < self.starts_at:
            return False
        if self.ends_at is not None and at >= self.ends_at:
            return False
        return not self.weekdays or at.astimezone(tz).isoweekday() in self.weekdays


class FirstPurchaseBonus(BaseModel):
    """A bonus on the customer's first order: fixed points and/or a multiplier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["first_purchase"] = "first_purchase"
    code: Code
    points: Points | None = None
    multiplier: Multiplier | None = None

    @model_validator(mode="after")
    def _gives_something(self) -> FirstPurchaseBonus:
        if self.points is None and self.multiplier is None:
            raise ValueError(f"bonus {self.code}: give points, multiplier or both")
        return self


class ReviewBonus(BaseModel):
    """Fixed points for the first review of each subject (product or order)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["review_written"] = "review_written"
    code: Code
    points: Points


ProfileField = Literal[
    "name", "email", "phone", "birthday", "time_zone", "language", "acquisition_channel"
]
"""Customer profile columns a profile bonus may require."""
DEFAULT_PROFILE_FIELDS: tuple[ProfileField, ...] = ("name", "email", "phone", "birthday")


class ProfileBonus(BaseModel):
    """Fixed points, once, when the customer's profile becomes complete: every field of
    ``required_fields`` set (not null, not blank)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["profile_completed"] = "profile_completed"
    code: Code
    points: Points
    required_fields: Annotated[list[ProfileField], Field(min_length=1)] = Field(
        default_factory=lambda: list(DEFAULT_PROFILE_FIELDS),
        description="Profile fields that must all be set for the profile to be complete.",
    )

    def complete(self, profile: Mapping[str, object] | None) -> bool:
        """Whether every required field of ``profile`` is set (a string must not be blank)."""
        if profile is None:
            return False
        return all(_is_set(profile.get(field)) for field in self.required_fields)


def _is_set(value: object) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None


Bonus = Annotated[
    PeriodBonus | FirstPurchaseBonus | ReviewBonus | ProfileBonus, Field(discriminator="kind")
]


class PointsProgramConfig(PointsRules):
    """The whole config of a ``points`` program, stored flat: the earning rules of
    :class:`~regulars.loyalty.program_types.earning.PointsRules`, its bonus events, the time
    zone a period bonus falls back to for a customer without a (known) one, and who shares
    and spends a household account (used when the program has ``shared_household``)."""

    type: Literal["points"] = "points"
    bonuses: list[Bonus] = Field(default_factory=list)
    default_time_zone: str = Field(
        "UTC", description="IANA zone for weekday bonuses of customers without a known one."
    )
    household: HouseholdRules = Field(default_factory=HouseholdRules)

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="after")
    def _codes_unique(self) -> PointsProgramConfig:
        codes = [b.code for b in self.bonuses]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"bonuses: duplicate code(s) {', '.join(duplicates)}")
        return self

    @model_validator(mode="after")
    def _spendable_before_expiry(self) -> PointsProgramConfig:
        if self.expiry_days is not None and self.expiry_days <= self.pending_days:
            raise ValueError(
                "expiry_days must be more than pending_days: the points would expire "
                "before they can be spent"
            )
        return self

    def customer_zone(self, time_zone: str | None) -> ZoneInfo:
        """The customer's IANA zone; without one, or with a name that is not a known zone,
        :attr:`default_time_zone`."""
        try:
            return zone(time_zone, self.default_time_zone)
        except ValueError:
            return zone(self.default_time_zone)

    def profile_bonuses(self) -> list[ProfileBonus]:
        return [b for b in self.bonuses if isinstance(b, ProfileBonus)]

    def has_first_purchase_bonus(self) -> bool:
        return any(isinstance(b, FirstPurchaseBonus) for b in self.bonuses)


def order_key(shop_id: str, order_id: str) -> str:
    """The key of an order's base earn lot (and the stem of its period bonus keys), bounded
    like every key (an order id may use all of its 255 characters)."""
    return bounded_key(f"order:{shop_id}:{order_id}")


def bounded_key(key: str) -> str:
    """``key`` itself when it fits :data:`KEY_LENGTH`, else its first characters, ``~`` and
    the hex SHA-256 of the whole key (still unique, still stable)."""
    if len(key) <= KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: KEY_LENGTH - len(digest) - 1]}~{digest}"


def _lot(
    rules: PointsRules, key: str, points: int, reason: str, at: datetime, available_at: datetime
) -> Earn:
    expires = None if rules.expiry_days is None else at + days(rules.expiry_days)
    return Earn(
        key=key, points=points, reason=reason, available_at=available_at, expires_at=expires
    )


def _order_points(rules: PointsRules, purchase: Purchase, multiplier: Decimal) -> int:
    lines = [line.as_rule_line() for line in purchase.lines]
    return points_earned(rules, purchase.amount, lines, multiplier)


def is_first_purchase(purchase: Purchase, history: Sequence[Purchase]) -> bool:
    """No other paid order of the customer comes before it (time, then order id)."""
    rank = (purchase.at, purchase.order_id)
    return not any(
        (p.at, p.order_id) < rank and p.amount > 0
        for p in history
        if p.customer_id == purchase.customer_id
    )


@dataclass(frozen=True)
class PurchaseEarn:
    """One lot an order earns and where it comes from: ``base`` (no code) or a bonus."""

    kind: Literal["base", "period", "first_purchase"]
    code: str | None
    earn: Earn


def _best_multiplier(
    config: PointsProgramConfig, purchase: Purchase, first: bool, tz: ZoneInfo
) -> tuple[Decimal, PeriodBonus | FirstPurchaseBonus, str] | None:
    """(multiplier, bonus, key) of the largest multiplier bonus for the order, if any > 1."""
    candidates: list[tuple[Decimal, PeriodBonus | FirstPurchaseBonus, str]] = []
    stem = order_key(purchase.shop_id, purchase.order_id)
    for bonus in config.bonuses:
        if isinstance(bonus, PeriodBonus) and bonus.applies(purchase.at, tz):
            candidates.append((bonus.multiplier, bonus, f"{stem}:bonus:{bonus.code}"))
        elif isinstance(bonus, FirstPurchaseBonus) and first and bonus.multiplier is not None:
            key = f"bonus:{bonus.code}:{purchase.customer_id}"
            candidates.append((bonus.multiplier, bonus, key))
    candidates = [c for c in candidates if c[0] > ONE]
    # Largest multiplier wins; equal multipliers: the smallest code, so the choice is stable.
    return min(candidates, key=lambda c: (-c[0], c[1].code)) if candidates else None


def purchase_earns(
    config: PointsProgramConfig,
    purchase: Purchase,
    history: Sequence[Purchase] = (),
    time_zone: str | None = None,
    tier_multiplier: Decimal = ONE,
) -> list[PurchaseEarn]:
    """Earn lots for one order with their source: base points, the best multiplier bonus,
    first-purchase points (see the module docstring).

    ``history`` is the customer's other purchases (used to tell a first purchase);
    ``time_zone`` the customer's IANA zone (:meth:`PointsProgramConfig.customer_zone`);
    ``tier_multiplier`` comes from a tier or membership program.
    """
    rules = config
    at = purchase.at
    available_at = at + days(rules.pending_days)
    base = _order_points(rules, purchase, tier_multiplier)
    earns: list[PurchaseEarn] = []
    if base > 0:
        key = order_key(purchase.shop_id, purchase.order_id)
        lot = _lot(rules, key, base, "purchase", at, available_at)
        earns.append(PurchaseEarn("base", None, lot))
    first = purchase.amount > 0 and is_first_purchase(purchase, history)
    best = _best_multiplier(config, purchase, first, config.customer_zone(time_zone))
    if best is not None:
        multiplier, bonus, key = best
        extra = _order_points(rules, purchase, tier_multiplier * multiplier) - base
        if extra > 0:
            reason = f"bonus {bonus.code} x{multiplier}"
            lot = _lot(rules, bounded_key(key), extra, reason, at, available_at)
            earns.append(PurchaseEarn(bonus.kind, bonus.code, lot))
    for fixed in config.bonuses:
        if isinstance(fixed, FirstPurchaseBonus) and first and fixed.points is not None:
            key = bounded_key(f"bonus:{fixed.code}:{purchase.customer_id}:points")
            lot = _lot(rules, key, fixed.points, f"bonus {fixed.code}", at, available_at)
            earns.append(PurchaseEarn(fixed.kind, fixed.code, lot))
    return earns


def earn_for_purchase(
    config: PointsProgramConfig,
    purchase: Purchase,
    history: Sequence[Purchase] = (),
    time_zone: str | None = None,
    tier_multiplier: Decimal = ONE,
) -> list[Earn]:
    """The lots of :func:`purchase_earns`, without their sources."""
    return [p.earn for p in purchase_earns(config, purchase, history, time_zone, tier_multiplier)]


def earn_for_review(
    config: PointsProgramConfig, customer_id: str, subject: str, at: datetime
) -> list[Earn]:
    """Lots for a review of ``subject`` (a product or an order), spendable at once; the key
    makes a second review of the same subject earn nothing."""
    require_utc(at, "at")
    if not subject:
        raise ValueError("subject: a review bonus needs the reviewed product or order id")
    return [
        _lot(
            config,
            bounded_key(f"bonus:{bonus.code}:{customer_id}:{subject}"),
            bonus.points,
            f"bonus {bonus.code}",
            at,
            at,
        )
        for bonus in config.bonuses
        if isinstance(bonus, ReviewBonus)
    ]


def earn_for_profile(
    config: PointsProgramConfig,
    customer_id: str,
    before: Mapping[str, object] | None,
    after: Mapping[str, object],
    at: datetime,
) -> list[Earn]:
    """Lots for the profile bonuses a save makes complete: complete ``after`` and not
    ``before`` (``None``: a new customer); spendable at once, once per customer."""
    require_utc(at, "at")
    return [
        _lot(
            config,
            bounded_key(f"bonus:{bonus.code}:{customer_id}"),
            bonus.points,
            f"bonus {bonus.code}",
            at,
            at,
        )
        for bonus in config.profile_bonuses()
        if bonus.complete(after) and not bonus.complete(before)
    ]
