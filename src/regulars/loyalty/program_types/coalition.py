"""Partners / coalition: partners issue the program's points for their sales and accept them
as payment; the program and each partner settle per period.

A partner ``p`` issues ``floor(sale_amount × earn_per_unit_p)`` points for a sale, and pays
the program ``issue_value_p`` money per point it issued (the points are a liability the
program takes over). A customer can pay at an accepting partner with points; the program
owes that partner ``redeem_value_p`` money per point redeemed there. For a period
``[start, end)``:

    owed_to_program = round_half_up_cent(issued_points × issue_value)
    owed_to_partner = round_half_up_cent(redeemed_points × redeem_value)
    net             = owed_to_program − owed_to_partner    (> 0: the partner pays)

Rounding happens once per partner and period, on the totals, never per transaction.
Transactions are keyed ``partner:<partner>:<transaction_id>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from regulars.loyalty.program_types.fields import Code
from regulars.loyalty.program_types.outcomes import Debit, Earn
from regulars.loyalty.program_types.timeutil import days, require_utc

CENT = Decimal("0.01")
Rate = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=6)]


class Partner(BaseModel):
    """One coalition partner and its rates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    name: Annotated[str, Field(min_length=1)]
    earn_per_unit: Rate = Field(description="Points per currency unit of the partner's sale.")
    issue_value: Rate = Field(description="Money the partner owes per point it issued.")
    accepts_points: bool = False
    redeem_value: Rate = Field(Decimal(0), description="Money owed to it per point redeemed.")


class CoalitionConfig(BaseModel):
    """A coalition of partners around the program's points."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["coalition"] = "coalition"
    partners: Annotated[list[Partner], Field(min_length=1)]
    expiry_days: Annotated[int | None, Field(ge=1)] = 365

    @model_validator(mode="after")
    def _partner_codes_unique(self) -> CoalitionConfig:
        codes = [p.code for p in self.partners]
        if len(set(codes)) != len(codes):
            raise ValueError("partners: codes must be unique")
        return self

    def partner(self, code: str) -> Partner:
        """The partner called ``code``; unknown codes are an error naming it."""
        for partner in self.partners:
            if partner.code == code:
                return partner
        raise ValueError(f"partner: {code!r} is not a coalition partner")


@dataclass(frozen=True)
class PartnerTransaction:
    """Points a partner issued (``issue``) or accepted as payment (``redeem``)."""

    transaction_id: str
    partner: str
    kind: Literal["issue", "redeem"]
    points: int
    at: datetime


@dataclass(frozen=True)
class Settlement:
    """One partner's line of the settlement; ``net > 0``: the partner pays the program."""

    partner: str
    issued_points: int
    owed_to_program: Decimal
    redeemed_points: int
    owed_to_partner: Decimal
    net: Decimal


def _key(partner: str, transaction_id: str) -> str:
    return f"partner:{partner}:{transaction_id}"


def partner_earn(
    config: CoalitionConfig, partner_code: str, transaction_id: str, amount: Decimal, at: datetime
) -> tuple[PartnerTransaction, Earn | None]:
    """Points a partner's sale earns; the transaction to settle and the customer's lot."""
    require_utc(at, "at")
    partner = config.partner(partner_code)
    points = max(0, int((amount * partner.earn_per_unit).to_integral_value(rounding=ROUND_FLOOR)))
    tx = PartnerTransaction(transaction_id, partner.code, "issue", points, at)
    if points == 0:
        return tx, None
    expires = None if config.expiry_days is None else at + days(config.expiry_days)
    earn = Earn(_key(partner.code, transaction_id), points, f"partner {partner.code}", at, expires)
    return tx, earn


def partner_redeem(
    config: CoalitionConfig,
    partner_code: str,
    transaction_id: str,
    points: int,
    balance: int,
    at: datetime,
) -> tuple[PartnerTransaction, Debit]:
    """Pay ``points`` at a partner; refuses a partner that does not accept points or a
    balance that does not cover them (the ledger re-checks atomically when it applies)."""
    require_utc(at, "at")
    partner = config.partner(partner_code)
    if not partner.accepts_points:
        raise ValueError(f"partner: {partner.code} does not accept points")
    if points <= 0:
        raise ValueError(f"points: must be positive, got {points}")
    if points > balance:
        raise ValueError(f"points: {points} exceed the balance of {balance}")
    tx = PartnerTransaction(transaction_id, partner.code, "redeem", points, at)
    return tx, Debit(_key(partner.code, transaction_id), points, f"paid at {partner.code}")


def settlement_report(
    config: CoalitionConfig,
    transactions: Iterable[PartnerTransaction],
    start: datetime,
    end: datetime,
) -> list[Settlement]:
    """One line per partner (in config order) for transactions in ``[start, end)``."""
    issued = dict.fromkeys((p.code for p in config.partners), 0)
    redeemed = dict(issued)
    for tx in transactions:
        if start <= tx.at < end:
            target = issued if tx.kind == "issue" else redeemed
            target[config.partner(tx.partner).code] += tx.points
    report = []
    for partner in config.partners:
        to_program = (issued[partner.code] * partner.issue_value).quantize(CENT, ROUND_HALF_UP)
        to_partner = (redeemed[partner.code] * partner.redeem_value).quantize(CENT, ROUND_HALF_UP)
        report.append(
            Settlement(
                partner=partner.code,
                issued_points=issued[partner.code],
                owed_to_program=to_program,
                redeemed_points=redeemed[partner.code],
                owed_to_partner=to_partner,
                net=to_program - to_partner,
            )
        )
    return report
