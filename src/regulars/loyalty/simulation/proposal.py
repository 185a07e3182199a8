"""The proposed program a simulation replays: the ``points`` program's whole config (the
same JSON/TOML could create the live program), an optional ``tiers`` club and the
behavioural assumptions, loaded from a TOML file (:func:`load_program`).
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from regulars.errors import RegularsError
from regulars.loyalty.program_types.bonus import PointsProgramConfig
from regulars.loyalty.program_types.tiers import TierClubConfig


class Assumptions(BaseModel):
    """How customers are assumed to behave under the program (see the package docstring).

    The defaults are deliberately middle-of-the-road guesses, not industry facts: change
    them to what the shop knows, and compare a cautious and an optimistic run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enrolment_share: float = Field(0.6, ge=0, le=1, description="Share of customers who join.")
    redeemer_share: float = Field(0.7, ge=0, le=1, description="Share of members who redeem.")
    redeem_threshold_value: Decimal = Field(
        Decimal(5), ge=0, description="A redeemer redeems once the points are worth this."
    )
    expected_breakage: float | None = Field(
        None, ge=0, le=1, description="Share of outstanding points never redeemed."
    )
    fixed_cost_per_month: Decimal = Field(Decimal(0), ge=0, description="Running costs.")
    expected_lift_pct: float | None = Field(
        None, ge=0, description="Revenue lift the owner expects, to answer yes or no."
    )
    program_code: str = Field("points", min_length=1, description="Salt of the member draw.")


DEFAULT_TIERS_CODE = "tiers"


class ProposedProgram(BaseModel):
    """A proposed program: the ``points`` program's whole config (the same JSON/TOML could
    create the live program), an optional ``tiers`` club and the behavioural assumptions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: PointsProgramConfig
    tiers: TierClubConfig | None = None
    assumptions: Assumptions = Field(default_factory=Assumptions)

    @field_validator("tiers", mode="before")
    @classmethod
    def _code_by_default(cls, value: object) -> object:
        """A simulated club needs no code of its own (default ``tiers``)."""
        if isinstance(value, dict) and "code" not in value:
            return {"code": DEFAULT_TIERS_CODE, **value}
        return value

    @field_validator("tiers")
    @classmethod
    def _spend_basis(cls, value: TierClubConfig | None) -> TierClubConfig | None:
        if value is not None and value.basis != "spend":
            raise ValueError(
                "basis 'points' is not simulated (a points-based tier depends on the points "
                "it multiplies); simulate basis = 'spend'"
            )
        return value


def load_program(path: Path) -> ProposedProgram:
    """A program from TOML: a ``[rules]`` table (a ``points`` program config:
    PointsRules, ``[[rules.bonuses]]``, ``[rules.household]``), an optional ``[tiers]``
    table (a ``tiers`` program: ``[[tiers.tiers]]``, ``window_days``, ``grace_days``) and
    an optional ``[assumptions]`` table. Errors name the file and the field."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegularsError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegularsError(f"{path}: not valid TOML ({exc})") from None
    try:
        return ProposedProgram.model_validate(raw)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise RegularsError(f"{path}: {where}: {problem['msg']}") from None
