"""The simulator's proposed program: ``--tiers`` and ``--expiry-days`` specs, and options
merged over a ``--config`` file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from regulars.errors import RegularsError
from regulars.loyalty.simulation.options import (
    AssumptionOptions,
    RuleOptions,
    parse_expiry,
    parse_tiers,
    propose_program,
)

RULES = RuleOptions(earn_per_unit=Decimal(1), point_value=Decimal("0.01"))


def test_tiers_have_an_optional_discount() -> None:
    assert parse_tiers("silver:500:1.5, gold:2000:2:5") == [
        {"name": "silver", "threshold": Decimal(500), "earn_multiplier": Decimal("1.5")},
        {
            "name": "gold",
            "threshold": Decimal(2000),
            "earn_multiplier": Decimal(2),
            "discount_pct": Decimal(5),
        },
    ]
    assert parse_tiers(None) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gold", "--tiers: 'gold' is not name:threshold:multiplier[:discount%]"),
        (":1:2", "--tiers: ':1:2' is not name"),
        ("gold:many:2", "--tiers: 'many' is not a number"),
    ],
)
def test_bad_tiers_name_the_option(spec: str, message: str) -> None:
    with pytest.raises(RegularsError) as caught:
        parse_tiers(spec)
    assert str(caught.value).startswith(message)


def test_expiry_is_days_or_never() -> None:
    assert parse_expiry("30") == 30
    assert parse_expiry("Never") == "never"
    assert parse_expiry(None) is None
    with pytest.raises(RegularsError, match="--expiry-days: 'soon' is not a number of days"):
        parse_expiry("soon")


def test_options_override_the_config_and_never_clears_its_expiry(tmp_path: Path) -> None:
    config = tmp_path / "program.toml"
    config.write_text(
        '[rules]\nearn_per_unit = "1"\npoint_value = "0.01"\nexpiry_days = 100\n'
        '[tiers]\nwindow_days = 400\n[[tiers.tiers]]\nname = "gold"\nthreshold = "900"\n'
        "[assumptions]\nenrolment_share = 0.5\n"
    )
    program = propose_program(
        config,
        RuleOptions(earn_per_unit=Decimal(2), expiry_days="never"),
        parse_tiers("silver:500:1.5"),
        AssumptionOptions(redeemer_share=1.0),
    )
    assert program.rules.earn_per_unit == 2
    assert program.rules.point_value == Decimal("0.01")
    assert program.rules.expiry_days is None
    assert program.tiers is not None
    assert program.tiers.window_days == 400
    assert [t.name for t in program.tiers.tiers] == ["silver"]
    assert program.assumptions.enrolment_share == 0.5
    assert program.assumptions.redeemer_share == 1.0


def test_without_a_config_the_earning_options_are_required() -> None:
    assert propose_program(None, RULES, None, AssumptionOptions()).tiers is None
    with pytest.raises(RegularsError, match="--point-value is required"):
        propose_program(None, RuleOptions(earn_per_unit=Decimal(1)), None, AssumptionOptions())
