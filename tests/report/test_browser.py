"""The report opened in a real browser (Debian's Chromium driven by Playwright) with every
network request blocked: it must render all charts offline, without a JavaScript error."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("REGULARS_TEST_CHROMIUM") or shutil.which("chromium")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed (CI sets REGULARS_TEST_CHROMIUM)"
)


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        yield context.new_page()
        browser.close()


def test_report_renders_offline_without_errors(page: Any, demo_report: Path) -> None:
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    def block(route: Any) -> None:
        if not route.request.url.startswith("file://"):
            requests.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", block)
    page.goto((demo_report / "report.html").as_uri())
    page.wait_for_selector(".plotly-graph-div .main-svg")

    assert errors == []
    assert requests == [], "the report must not fetch anything"
    charts = page.locator(".plotly-graph-div")
    assert charts.count() >= 10
    for i in range(charts.count()):  # every chart drew its SVG
        assert charts.nth(i).locator(".main-svg").count() >= 1
    assert "customer retention rate" in page.inner_text(".tiles").lower()


def test_tile_explains_its_definition_on_hover(page: Any, demo_report: Path) -> None:
    page.goto((demo_report / "report.html").as_uri())
    tile = page.locator(".tile").first
    definition = tile.locator(".def")
    assert not definition.is_visible()
    tile.hover()
    assert definition.is_visible()
    assert "CRR" in definition.inner_text()


def test_fits_a_laptop_screen_without_horizontal_scroll(page: Any, demo_report: Path) -> None:
    page.goto((demo_report / "report.html").as_uri())
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
