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


WIDTHS = {"laptop": 1366, "phone": 390}


@pytest.mark.parametrize("width", list(WIDTHS.values()), ids=list(WIDTHS))
def test_no_horizontal_page_scroll(page: Any, demo_report: Path, width: int) -> None:
    """At 1366 px and on a 390 px phone the page never scrolls sideways: wide tables and
    heatmaps scroll inside their own box instead."""
    page.set_viewport_size({"width": width, "height": 800})
    page.goto((demo_report / "report.html").as_uri())
    page.wait_for_selector(".plotly-graph-div .main-svg")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    boxes = page.evaluate(
        """[...document.querySelectorAll('.scroll, figure.chart .plot')].map(
             e => [e.getBoundingClientRect().right, e.scrollWidth > e.clientWidth])"""
    )
    assert all(right <= width + 0.5 for right, _ in boxes)
    if width == WIDTHS["phone"]:
        assert any(scrolls for _, scrolls in boxes), "a wide table scrolls inside its box"


@pytest.mark.parametrize("width", list(WIDTHS.values()), ids=list(WIDTHS))
def test_chart_toolbars_never_cover_a_title(page: Any, demo_report: Path, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    page.goto((demo_report / "report.html").as_uri())
    page.wait_for_selector(".plotly-graph-div .main-svg")
    figures = page.locator("figure.chart")
    assert figures.count() >= 10
    checked = 0
    for i in range(figures.count()):
        figure = figures.nth(i)
        figure.locator(".plotly-graph-div").hover()
        bar = figure.locator(".modebar").bounding_box()
        title = figure.locator("figcaption").bounding_box()
        assert title is not None
        assert title["height"] > 0, "every chart has a visible title"
        if bar is None:
            continue
        checked += 1
        apart = (
            bar["y"] >= title["y"] + title["height"]
            or bar["x"] + bar["width"] <= title["x"]
            or bar["x"] >= title["x"] + title["width"]
        )
        assert apart, figure.locator("figcaption").inner_text()
    assert checked >= figures.count() // 2, "the toolbars showed on hover"


def test_phone_shows_tiles_two_by_two_and_their_definitions(page: Any, demo_report: Path) -> None:
    page.set_viewport_size({"width": WIDTHS["phone"], "height": 800})
    page.goto((demo_report / "report.html").as_uri())
    tiles = page.locator("#where-we-stand .tile")
    first, second = tiles.nth(0).bounding_box(), tiles.nth(1).bounding_box()
    assert first is not None
    assert second is not None
    assert first["y"] == second["y"]  # side by side
    assert second["x"] + second["width"] <= WIDTHS["phone"]
    tiles.nth(1).click()  # a tap focuses the tile and shows its definition
    definition = tiles.nth(1).locator(".def")
    assert definition.is_visible()
    box = definition.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= WIDTHS["phone"]
