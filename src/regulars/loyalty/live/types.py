"""Registers the live program types, so that ``POST /v1/loyalty/programs`` accepts them."""

from __future__ import annotations

from regulars.loyalty.accounts import register_program_type
from regulars.loyalty.programs import (
    BadgesConfig,
    DiscountCardConfig,
    GiftsConfig,
    StampCardConfig,
    TierClubConfig,
)

# The program types this package runs, creatable through POST /v1/loyalty/programs; each
# config is validated by its model from regulars.loyalty.programs.
for _model in (DiscountCardConfig, StampCardConfig, TierClubConfig, BadgesConfig, GiftsConfig):
    register_program_type(_model.model_fields["type"].default, _model)
