"""Small assertions helpers shared by the importer tests."""

from __future__ import annotations

from typing import Any

from regulars.data.importers import ImportResult


def rows_by(table: Any, key: str) -> dict[Any, dict[str, Any]]:
    """A table as {key value: row dict}, for exact assertions."""
    return {row[key]: row for row in table.to_pylist()}


def rejects_at(result: ImportResult, row: int) -> list[dict[str, Any]]:
    """The rejects entries of one spreadsheet row."""
    return [r for r in result.rejects.to_pylist() if r["row"] == row]
