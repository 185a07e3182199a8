"""A small demo shop and its report, built once per test session (per xdist worker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from regulars.cli import app


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(
        app, ["demo", "--out", str(out), "--transactions", "4000", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def shopify_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A New York shop's Shopify export (tests/report/shopify_export.py)."""
    from shopify_export import write_shopify_export

    return write_shopify_export(tmp_path_factory.mktemp("shopify"))
