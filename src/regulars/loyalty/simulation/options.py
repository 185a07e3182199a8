"""A proposed points program for the what-if simulator, from a TOML file and short specs.

``regulars loyalty simulate`` takes the program as a file (``--config``), as options
(``--earn-per-unit 1 --tiers 'silver:500:1.5,gold:2000:2:5'``) or both; an option given
overrides the file. This module parses the specs that are more than a number and merges
everything into one validated :class:`~regulars.loyalty.simulation.proposal.ProposedProgram`. Its
errors are :class:`~regulars.errors.RegularsError` naming the option to fix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal, NotRequired, TypedDict

from regulars.errors import RegularsError
from regulars.loyalty.simulation.proposal import ProposedProgram, load_program

#: ``--expiry-days never``: points that never expire (the config's ``expiry_days`` unset).
NEVER: Final = "never"
Expiry = int | Literal["never"]


class TierSpec(TypedDict):
    """One tier of ``--tiers``, as the ``tiers`` program's config spells it."""

    name: str
    threshold: Decimal
    earn_multiplier: Decimal
    discount_pct: NotRequired[Decimal]


@dataclass(frozen=True)
class RuleOptions:
    """Earning and spending rules given as options; ``None`` keeps the config's value."""

    earn_per_unit: Decimal | None = None
    point_value: Decimal | None = None
    expiry_days: Expiry | None = None
    pending_days: int | None = None
    max_redeem_share: Decimal | None = None


@dataclass(frozen=True)
class AssumptionOptions:
    """Behavioural assumptions given as options; ``None`` keeps the config's value."""

    enrolment_share: float | None = None
    redeemer_share: float | None = None
    redeem_threshold_value: Decimal | None = None
    expected_lift_pct: float | None = None


def parse_expiry(text: str | None) -> Expiry | None:
    """``--expiry-days``: a number of days or ``never``."""
    if text is None:
        return None
    if text.lower() == NEVER:
        return NEVER
    try:
        return int(text)
    except ValueError:
        raise RegularsError(f"--expiry-days: '{text}' is not a number of days or 'never'") from None


def parse_tiers(text: str | None) -> list[TierSpec] | None:
    """``--tiers``: 'silver:500:1.5,gold:2000:2:5' (name:threshold:multiplier[:discount %])."""
    if text is None:
        return None
    return [_tier(item) for item in text.split(",")]


def _tier(item: str) -> TierSpec:
    parts = item.strip().split(":")
    if len(parts) not in (3, 4) or not parts[0]:
        raise RegularsError(f"--tiers: '{item}' is not name:threshold:multiplier[:discount%]")
    tier = TierSpec(
        name=parts[0], threshold=_tier_number(parts[1]), earn_multiplier=_tier_number(parts[2])
    )
    if len(parts) == 4:
        tier["discount_pct"] = _tier_number(parts[3])
    return tier


def _tier_number(text: str) -> Decimal:
    try:
        return Decimal(text)
    except ArithmeticError:
        raise RegularsError(f"--tiers: '{text}' is not a number") from None


def propose_program(
    config: Path | None,
    rules: RuleOptions,
    tiers: list[TierSpec] | None,
    assumptions: AssumptionOptions,
) -> ProposedProgram:
    """The program of ``config`` (if any) with the options on top of it: ``tiers``
    replaces the tiers of the config's ``[tiers]`` club, keeping its window and grace.

    Without a config, the options must at least say how points are earned and what they
    are worth."""
    base: dict[str, Any] = (
        load_program(config).model_dump(exclude_none=False)
        if config
        else {"rules": {}, "tiers": None, "assumptions": {}}
    )
    base["rules"] |= _given(rules)
    if tiers is not None:
        base["tiers"] = (base["tiers"] or {}) | {"tiers": tiers}
    base["assumptions"] |= _given(assumptions)
    for needed, option in (("earn_per_unit", "--earn-per-unit"), ("point_value", "--point-value")):
        if needed not in base["rules"]:
            raise RegularsError(f"{option} is required (or a --config whose rules set {needed})")
    return ProposedProgram.model_validate(base)


def _given(options: RuleOptions | AssumptionOptions) -> dict[str, object]:
    """The options that were given; an expiry of ``never`` is given as "no expiry"."""
    given = {name: value for name, value in asdict(options).items() if value is not None}
    if given.get("expiry_days") == NEVER:
        given["expiry_days"] = None
    return given
