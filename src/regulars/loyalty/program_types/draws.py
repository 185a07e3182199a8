"""Contests and prize draws: an eligible list by rule and an auditable, re-runnable draw.

**Eligible**: customers who opted in (when ``require_opt_in``) with at least
``min_purchases`` paid orders (``amount > 0``) totalling at least ``min_spend`` in
``[starts_at, ends_at)``. The list is sorted by customer id in Unicode code-point order
(Python's ``sorted``), and its fingerprint is ``SHA-256("\\n".join(ids))`` (UTF-8, hex).

**Draw** with a stored ``seed`` (a string; :func:`new_seed` makes 128 random bits as hex):
every eligible customer gets the ticket ``SHA-256(seed + "\\n" + customer_id)`` (UTF-8,
hex); the ``k`` customers with the smallest tickets win, in ticket order. Anyone can re-run
it with a few lines in any language: the same seed and the same eligible ids give the
same winners, the order of the input list does not matter, and nobody can win twice
(without replacement). Publishing the seed's SHA-256 before the draw and the seed after
proves it was not picked to favour someone. Prize keys: ``draw:<code>:<customer>``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from regulars.loyalty.program_types.fields import Code, Money
from regulars.loyalty.program_types.history import Purchase
from regulars.loyalty.program_types.outcomes import Gift


class DrawConfig(BaseModel):
    """A prize draw among the customers who bought in a period."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["draw"] = "draw"
    code: Code
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    min_purchases: Annotated[int, Field(ge=1)] = 1
    min_spend: Money = Decimal(0)
    require_opt_in: bool = True
    winners: Annotated[int, Field(ge=1)]
    prize: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _period_is_ordered(self) -> DrawConfig:
        if self.ends_at <= self.starts_at:
            raise ValueError(f"draw {self.code}: ends_at must be after starts_at")
        return self


@dataclass(frozen=True)
class Entrant:
    """A customer who may take part, and whether they opted in."""

    customer_id: str
    opted_in: bool


@dataclass(frozen=True)
class DrawResult:
    """What to store with a draw so that anyone can re-run it."""

    seed: str
    eligible_count: int
    eligible_sha256: str
    winners: list[str]
    prizes: list[Gift]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_seed() -> str:
    """A fresh seed to store with the draw: 128 random bits, hex."""
    return secrets.token_hex(16)


def eligible(
    config: DrawConfig, entrants: Iterable[Entrant], purchases: Sequence[Purchase]
) -> list[str]:
    """The eligible customer ids, sorted (see the module docstring)."""
    counts: dict[str, int] = {}
    spend: dict[str, Decimal] = {}
    for p in purchases:
        if p.amount > 0 and config.starts_at <= p.at < config.ends_at:
            counts[p.customer_id] = counts.get(p.customer_id, 0) + 1
            spend[p.customer_id] = spend.get(p.customer_id, Decimal(0)) + p.amount
    return sorted(
        {
            e.customer_id
            for e in entrants
            if (e.opted_in or not config.require_opt_in)
            and counts.get(e.customer_id, 0) >= config.min_purchases
            and spend.get(e.customer_id, Decimal(0)) >= config.min_spend
        }
    )


def ticket(seed: str, customer_id: str) -> str:
    """A customer's ticket: ``SHA-256(seed + "\\n" + customer_id)`` in hex."""
    return _sha256(f"{seed}\n{customer_id}")


def draw(
    config: DrawConfig,
    eligible_ids: Iterable[str],
    seed: str,
    tickets: Mapping[str, str] | None = None,
) -> DrawResult:
    """Draw ``config.winners`` distinct winners (all of them if fewer are eligible).

    ``tickets`` are the tickets a draw was made with, by customer id: an id there keeps its
    ticket (an entrant erased since holds a pseudonym, whose own ticket would differ)."""
    if not seed:
        raise ValueError("seed: a non-empty seed is required (store it with the draw)")
    ids = sorted(set(eligible_ids))
    held = tickets or {}
    ranked = sorted(ids, key=lambda cid: (held.get(cid) or ticket(seed, cid), cid))
    winners = ranked[: config.winners]
    prizes = [
        Gift(key=f"draw:{config.code}:{cid}", gift=config.prize, reason=f"draw {config.code}")
        for cid in winners
    ]
    return DrawResult(seed, len(ids), _sha256("\n".join(ids)), winners, prizes)
