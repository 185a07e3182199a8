"""Birthday and holiday gifts, due on the customer's own calendar day.

"Today" is the customer's local date (``customers.time_zone``, else the program's
``default_time_zone``). A gift is due from local midnight of its day for ``valid_days``
days, so a worker that misses a run still hands it out the next day; the key makes it
once only:

* birthday ``birthday:<customer>:<year>`` (once per customer and year);
* holiday ``holiday:<code>:<customer>:<date ISO>`` (once per listed date).

A birthday on **29 February** is celebrated, in years without that day, on 28 February
(``feb29 = "feb28"``, the default: still in the birthday's month) or on 1 March
(``feb29 = "mar1"``: the day after 28 February, as some laws count it). Points rewards
become available at the local midnight that starts the gift day (as a UTC instant, so
every run builds the same outcome) and expire ``points_expiry_days`` later.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from regulars.loyalty.program_types.fields import Code, Points
from regulars.loyalty.program_types.outcomes import Earn, Gift
from regulars.loyalty.program_types.timeutil import days, local_date, local_midnight_utc, zone


class GiftReward(BaseModel):
    """Points or a named gift (exactly one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: Points | None = None
    gift: Annotated[str | None, Field(min_length=1)] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> GiftReward:
        if (self.points is None) == (self.gift is None):
            raise ValueError("reward: give exactly one of points and gift")
        return self


class BirthdayGift(BaseModel):
    """The birthday gift and how long it stays claimable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reward: GiftReward
    valid_days: Annotated[int, Field(ge=1, le=366)] = 7
    feb29: Literal["feb28", "mar1"] = "feb28"


class Holiday(BaseModel):
    """A holiday gift on each of the listed dates (local calendar dates)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    dates: Annotated[list[date], Field(min_length=1)]
    reward: GiftReward
    valid_days: Annotated[int, Field(ge=1, le=366)] = 1


class GiftsConfig(BaseModel):
    """Birthday and holiday gifts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["gifts"] = "gifts"
    birthday: BirthdayGift | None = None
    holidays: list[Holiday] = Field(default_factory=list)
    default_time_zone: str = "UTC"
    points_expiry_days: Annotated[int | None, Field(ge=1)] = 30

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value


@dataclass(frozen=True)
class GiftCustomer:
    """What gifts need of a customer (``time_zone`` is IANA, e.g. ``Europe/Berlin``)."""

    customer_id: str
    birthday: date | None = None
    time_zone: str | None = None


def birthday_in(year: int, birthday: date, feb29: Literal["feb28", "mar1"] = "feb28") -> date:
    """The day the birthday is celebrated in ``year``."""
    if (birthday.month, birthday.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28) if feb29 == "feb28" else date(year, 3, 1)
    return birthday.replace(year=year)


def _reward(
    config: GiftsConfig, reward: GiftReward, key: str, reason: str, starts: datetime
) -> Earn | Gift:
    if reward.points is not None:
        expiry = config.points_expiry_days
        expires = None if expiry is None else starts + days(expiry)
        return Earn(key, reward.points, reason, available_at=starts, expires_at=expires)
    assert reward.gift is not None  # the validator guarantees exactly one
    return Gift(key=key, gift=reward.gift, reason=reason)


def due_gifts(config: GiftsConfig, customer: GiftCustomer, now: datetime) -> list[Earn | Gift]:
    """Gifts due to ``customer`` at ``now`` (their local date decides)."""
    tz = zone(customer.time_zone, config.default_time_zone)
    today = local_date(now, tz)
    due: list[Earn | Gift] = []
    if config.birthday is not None and customer.birthday is not None:
        rule = config.birthday
        # The validity window of last year's birthday can reach into this year (31 Dec + 7 d).
        for year in (today.year - 1, today.year):
            day = birthday_in(year, customer.birthday, rule.feb29)
            if day <= today < day + days(rule.valid_days):
                key = f"birthday:{customer.customer_id}:{year}"
                starts = local_midnight_utc(day, tz)
                due.append(_reward(config, rule.reward, key, "birthday", starts))
    for holiday in config.holidays:
        for day in holiday.dates:
            if day <= today < day + days(holiday.valid_days):
                key = f"holiday:{holiday.code}:{customer.customer_id}:{day.isoformat()}"
                starts = local_midnight_utc(day, tz)
                due.append(_reward(config, holiday.reward, key, holiday.code, starts))
    return due
