"""ProgramConfig: every documented config validates, round-trips and rejects bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from regulars.loyalty.program_types import PROGRAM_TYPES, dump_program_config, parse_program_config

DOC = Path(__file__).resolve().parents[3] / "docs" / "loyalty-programs.md"


def documented_configs() -> list[dict[str, Any]]:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return [json.loads(block) for block in blocks]


def test_every_type_has_a_documented_example() -> None:
    assert sorted(c["type"] for c in documented_configs()) == sorted(PROGRAM_TYPES)


@pytest.mark.parametrize("data", documented_configs(), ids=lambda d: str(d["type"]))
def test_documented_example_validates_and_round_trips(data: dict[str, Any]) -> None:
    config = parse_program_config(data)
    assert config.type == data["type"]
    stored = json.loads(json.dumps(dump_program_config(config)))
    assert parse_program_config(stored) == config


def test_unknown_type_and_extra_fields_are_rejected_by_name() -> None:
    with pytest.raises(ValidationError, match=r"ProgramConfig\n.*'pyramid'"):
        parse_program_config({"type": "pyramid"})
    with pytest.raises(ValidationError, match=r"discount_card\.stepz"):
        parse_program_config({"type": "discount_card", "steps": [], "stepz": []})
    with pytest.raises(ValidationError, match=r"discount_card\.steps\.1\.pct"):
        parse_program_config(
            {"type": "discount_card", "steps": [{"threshold": 0, "pct": 5}, {"threshold": 9}]}
        )
    with pytest.raises(ValidationError, match=r"steps\.0\.threshold\n.*2 decimal places"):
        parse_program_config({"type": "discount_card", "steps": [{"threshold": "0.001", "pct": 5}]})
