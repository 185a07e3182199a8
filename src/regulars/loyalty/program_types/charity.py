"""Charity: customers donate points to a cause and the company matches them.

A donation of ``d`` points to a cause with ratio ``r`` and a cap ``C`` per period (calendar
month or year in UTC) is matched with

    matched = min( floor(d × r),  max(0, C − matched so far in the period) )

points (no cap: just the floor). Donations are matched in time order (ties by id), so the
cap goes to the earliest donations. The donor's points leave their account (a
:class:`Debit` keyed ``charity:<donation_id>``); the matched points are the company's money,
recorded only in the report. The report per cause and period values points at
``point_value``, rounded half-up to the cent on the totals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from regulars.loyalty.program_types.fields import Code
from regulars.loyalty.program_types.outcomes import Debit
from regulars.loyalty.program_types.timeutil import require_utc

CENT = Decimal("0.01")


class Cause(BaseModel):
    """A cause customers can donate to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    name: Annotated[str, Field(min_length=1)]
    match_ratio: Annotated[Decimal, Field(ge=0, max_digits=8, decimal_places=4)] = Field(
        Decimal(1), description="Company points per donated point (1: one-for-one)."
    )
    cap_points_per_period: Annotated[int | None, Field(ge=0)] = None


class CharityConfig(BaseModel):
    """A points-donation program."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["charity"] = "charity"
    causes: Annotated[list[Cause], Field(min_length=1)]
    point_value: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=6)]
    cap_period: Literal["month", "year"] = "month"
    min_donation: Annotated[int, Field(ge=1)] = 1

    @model_validator(mode="after")
    def _cause_codes_unique(self) -> CharityConfig:
        codes = [c.code for c in self.causes]
        if len(set(codes)) != len(codes):
            raise ValueError("causes: codes must be unique")
        return self

    def cause(self, code: str) -> Cause:
        for cause in self.causes:
            if cause.code == code:
                return cause
        raise ValueError(f"cause: {code!r} is not a cause of this program")


@dataclass(frozen=True)
class Donation:
    """A customer gives ``points`` to ``cause`` at ``at``."""

    donation_id: str
    customer_id: str
    cause: str
    points: int
    at: datetime


@dataclass(frozen=True)
class CauseReport:
    """One cause's line of the report: points and their money at ``point_value``."""

    cause: str
    donations: int
    donated_points: int
    matched_points: int
    donated_value: Decimal
    matched_value: Decimal
    total_value: Decimal


def cap_period(config: CharityConfig, at: datetime) -> tuple[int, int]:
    """The cap period an instant falls in: (year, month) or (year, 0)."""
    utc = require_utc(at, "at").astimezone(UTC)
    return (utc.year, utc.month if config.cap_period == "month" else 0)


def match_points(cause: Cause, points: int, matched_in_period: int) -> int:
    """The company's match for one donation, within what is left of the cap."""
    matched = math.floor(points * cause.match_ratio)
    if cause.cap_points_per_period is not None:
        matched = min(matched, max(0, cause.cap_points_per_period - matched_in_period))
    return matched


def donate(config: CharityConfig, donation: Donation, balance: int) -> Debit:
    """The debit of a donation, after checking the cause, the minimum and the balance."""
    require_utc(donation.at, "at")
    config.cause(donation.cause)
    if donation.points < config.min_donation:
        raise ValueError(f"points: the minimum donation is {config.min_donation}")
    if donation.points > balance:
        raise ValueError(f"points: {donation.points} exceed the balance of {balance}")
    return Debit(f"charity:{donation.donation_id}", donation.points, f"donation {donation.cause}")


def matches(config: CharityConfig, donations: Iterable[Donation]) -> dict[str, int]:
    """The match of every donation (by id), replaying the caps in time order."""
    used: dict[tuple[str, tuple[int, int]], int] = {}
    result = {}
    for d in sorted(donations, key=lambda d: (d.at, d.donation_id)):
        slot = (d.cause, cap_period(config, d.at))
        matched = match_points(config.cause(d.cause), d.points, used.get(slot, 0))
        used[slot] = used.get(slot, 0) + matched
        result[d.donation_id] = matched
    return result


def cause_report(
    config: CharityConfig, donations: Iterable[Donation], start: datetime, end: datetime
) -> list[CauseReport]:
    """Per cause (config order): donations in ``[start, end)``, matched points, money."""
    donations = list(donations)
    matched = matches(config, donations)
    report = []
    for cause in config.causes:
        inside = [d for d in donations if d.cause == cause.code and start <= d.at < end]
        donated = sum(d.points for d in inside)
        match = sum(matched[d.donation_id] for d in inside)
        report.append(
            CauseReport(
                cause=cause.code,
                donations=len(inside),
                donated_points=donated,
                matched_points=match,
                donated_value=(donated * config.point_value).quantize(CENT, ROUND_HALF_UP),
                matched_value=(match * config.point_value).quantize(CENT, ROUND_HALF_UP),
                total_value=((donated + match) * config.point_value).quantize(CENT, ROUND_HALF_UP),
            )
        )
    return report
