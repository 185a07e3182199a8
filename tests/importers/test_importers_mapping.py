"""Column mappings: the --map syntax, mapping files and their reading options."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from regulars.data.importers import (
    ColumnMapping,
    MappingError,
    load_mapping_file,
    parse_mapping,
    read_orders,
)
from regulars.data.importers.mapping import day_first_from_format, normalize_header
from regulars.errors import InputFileError, RegularsError


def test_cli_syntax() -> None:
    mapping = parse_mapping("customer_id=Email,amount=Total,ordered_at=Paid at")
    assert mapping.columns == {"customer_id": "Email", "amount": "Total", "ordered_at": "Paid at"}


def test_quoted_values_may_contain_commas_and_options_are_accepted() -> None:
    mapping = parse_mapping(
        'amount="Total, EUR", order_id = Beleg ,date_format=DD/MM/YYYY,delimiter=";"'
    )
    assert mapping.columns == {"amount": "Total, EUR", "order_id": "Beleg"}
    assert mapping.date_format == "DD/MM/YYYY"
    assert mapping.delimiter == ";"


def test_field_names_are_case_insensitive() -> None:
    assert parse_mapping("Customer ID=Kunde").columns == {"customer_id": "Kunde"}


def test_unknown_field_is_explained() -> None:
    with pytest.raises(MappingError, match="unknown field 'kunde'"):
        parse_mapping("kunde=Kundennummer")


def test_reversed_pair_gets_a_hint() -> None:
    with pytest.raises(MappingError, match='"amount=Total"'):
        parse_mapping("Total=amount")


def test_garbage_spec_is_explained() -> None:
    with pytest.raises(MappingError, match="expected"):
        parse_mapping("just some words")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("decimal=;", "decimal must be"),
        ("timezone=Mars/Olympus", "unknown time zone"),
        ("delimiter=ab", "one character"),
        ("date_format=YYYY", "day and month"),
    ],
)
def test_bad_options_fail_early(spec: str, message: str) -> None:
    with pytest.raises(RegularsError, match=message):
        parse_mapping(spec)


def test_tab_delimiter_spellings() -> None:
    assert parse_mapping("delimiter=tab").delimiter == "\t"
    assert parse_mapping("delimiter=\\t").delimiter == "\t"


def test_date_format_spellings() -> None:
    assert day_first_from_format("DD/MM/YYYY") is True
    assert day_first_from_format("MM/DD/YYYY") is False
    assert day_first_from_format("%d.%m.%Y %H:%M") is True
    assert day_first_from_format("%m/%d/%y") is False


def test_header_normalisation() -> None:
    assert normalize_header("  Order   Date ") == "order_date"
    assert normalize_header("ORDER-ID") == "order_id"


def test_mapping_file(corpus: Path) -> None:
    mapping = load_mapping_file(corpus / "mapping.toml")
    assert mapping.columns["customer_id"] == "Kundennummer"
    assert (mapping.delimiter, mapping.decimal, mapping.timezone) == (";", ",", "Europe/Berlin")
    assert mapping.date_format == "DD/MM/YYYY"


def test_mapped_import_uses_the_file_options(corpus: Path) -> None:
    result = read_orders(
        [corpus / "mapped_export.csv"], mapping=load_mapping_file(corpus / "mapping.toml")
    )
    assert result.source_format == "mapped"
    first = result.orders.to_pylist()[0]
    assert first["order_id"] == "B-1"
    assert first["amount"] == Decimal("12.40")
    assert first["channel"] == "Mitte"
    # 05/03/2024 08:15 is 5 March (DD/MM) in Berlin (CET, UTC+1).
    assert first["ordered_at"].isoformat() == "2024-03-05T07:15:00+00:00"


def test_explicit_arguments_win_over_the_mapping_file(corpus: Path) -> None:
    mapping = load_mapping_file(corpus / "mapping.toml")
    result = read_orders(
        [corpus / "mapped_export.csv"], mapping=mapping, timezone="America/New_York"
    )
    assert result.orders.column("ordered_at")[0].as_py().isoformat() == "2024-03-05T13:15:00+00:00"


def test_mapping_to_a_column_that_is_not_there(corpus: Path) -> None:
    with pytest.raises(InputFileError, match="'Kassenzeit', which is not in the file"):
        read_orders(
            [corpus / "mapped_export.csv"],
            mapping=load_mapping_file(corpus / "mapping.toml").merged_with(
                parse_mapping("ordered_at=Kassenzeit")
            ),
        )


def test_merged_with_prefers_the_other_mapping() -> None:
    base = ColumnMapping(columns={"amount": "Total"}, decimal=",")
    merged = base.merged_with(ColumnMapping(columns={"amount": "Net"}, timezone="UTC"))
    assert merged.columns == {"amount": "Net"}
    assert (merged.decimal, merged.timezone) == (",", "UTC")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[columns\n", "not valid TOML"),
        ('colums = {amount = "x"}\n', "unknown key"),
        ("[columns]\namount = 3\n", "must be a string"),
        ('[columns]\nbasket = "x"\n', "unknown field"),
        ('decimal = "x"\n', "decimal must be"),
    ],
)
def test_bad_mapping_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "map.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputFileError, match=message):
        load_mapping_file(path)


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        load_mapping_file(tmp_path / "nope.toml")
