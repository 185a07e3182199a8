"""Fixtures of the importer tests: the corpus folder and a reader of its files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from regulars.data.importers import ImportResult, read_orders

FILES = Path(__file__).parent / "files"


@pytest.fixture
def corpus() -> Path:
    """Folder of small good and broken input files."""
    return FILES


@pytest.fixture
def read(corpus: Path) -> Callable[..., ImportResult]:
    """``read("name.csv", timezone=...)``: import one corpus file."""

    def _read(*names: str, **options: Any) -> ImportResult:
        return read_orders([corpus / name for name in names], **options)

    return _read
