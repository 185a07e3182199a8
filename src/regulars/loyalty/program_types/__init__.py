"""Loyalty program types as pure rules: configs, and functions from history to outcomes.

Each module holds one program type: a pydantic config model with a ``type`` discriminator
and pure functions that read explicit inputs (:mod:`.history`, state objects) and return
:mod:`.outcomes` for the ledger to apply. :data:`ProgramConfig` validates any of them from
the JSON a programs table stores (``{"type": ..., ...config}``):

>>> config = parse_program_config({"type": "discount_card", "steps": [
...     {"threshold": "0", "pct": "5"}, {"threshold": "10000", "pct": "7"}]})
>>> config.type
'discount_card'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from regulars.loyalty.program_types.badges import BadgesConfig
from regulars.loyalty.program_types.bonus import PointsProgramConfig
from regulars.loyalty.program_types.charity import CharityConfig
from regulars.loyalty.program_types.coalition import CoalitionConfig
from regulars.loyalty.program_types.discount_card import DiscountCardConfig
from regulars.loyalty.program_types.draws import DrawConfig
from regulars.loyalty.program_types.gifts import GiftsConfig
from regulars.loyalty.program_types.membership import MembershipConfig
from regulars.loyalty.program_types.referral import ReferralConfig
from regulars.loyalty.program_types.stamp_card import StampCardConfig
from regulars.loyalty.program_types.tiers import TierClubConfig

ProgramConfig = Annotated[
    PointsProgramConfig
    | DiscountCardConfig
    | StampCardConfig
    | TierClubConfig
    | ReferralConfig
    | MembershipConfig
    | CoalitionConfig
    | CharityConfig
    | GiftsConfig
    | DrawConfig
    | BadgesConfig,
    Field(discriminator="type"),
]
"""Any program's config, told apart by its ``type`` field."""

# The title names the union in error messages instead of pydantic's long generated name.
_ADAPTER: TypeAdapter[ProgramConfig] = TypeAdapter(
    ProgramConfig, config=ConfigDict(title="ProgramConfig")
)

PROGRAM_MODELS: dict[str, type[BaseModel]] = {
    model.model_fields["type"].default: model for model in get_args(get_args(ProgramConfig)[0])
}
"""The config model of each ``type``, read off :data:`ProgramConfig` (the one registry)."""

PROGRAM_TYPES: tuple[str, ...] = tuple(PROGRAM_MODELS)
"""The ``type`` values, in the union's order."""


def parse_program_config(data: Mapping[str, Any]) -> ProgramConfig:
    """Validate stored or posted config JSON; a :class:`pydantic.ValidationError` names the
    field (e.g. ``discount_card.steps.1.pct``) when it is wrong."""
    return _ADAPTER.validate_python(dict(data))


def dump_program_config(config: ProgramConfig) -> dict[str, Any]:
    """The JSON-ready dict to store (Decimals as strings, times as ISO 8601)."""
    dumped: dict[str, Any] = _ADAPTER.dump_python(config, mode="json")
    return dumped


__all__ = [
    "PROGRAM_MODELS",
    "PROGRAM_TYPES",
    "BadgesConfig",
    "CharityConfig",
    "CoalitionConfig",
    "DiscountCardConfig",
    "DrawConfig",
    "GiftsConfig",
    "MembershipConfig",
    "PointsProgramConfig",
    "ProgramConfig",
    "ReferralConfig",
    "StampCardConfig",
    "TierClubConfig",
    "dump_program_config",
    "parse_program_config",
]
