"""``/docs`` works offline: Swagger UI comes from the package, and the page renders every
operation in Debian's Chromium with every request outside the app blocked."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

CHROMIUM = os.environ.get("REGULARS_TEST_CHROMIUM") or shutil.which("chromium")
APP_HOST = "regulars.test"


def test_docs_page_refers_only_to_the_app(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE"):
        assert client.get(f"/static/swagger-ui/{asset}").status_code == 200, asset


@pytest.fixture
def browser_page() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("Chromium not installed (CI sets REGULARS_TEST_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser.new_context().new_page()
        browser.close()


def test_docs_page_renders_offline_in_chromium(client: TestClient, browser_page: Any) -> None:
    """The browser's requests to the app are answered by the app itself (no server, no
    network); any other request fails the test."""
    outside: list[str] = []
    errors: list[str] = []
    browser_page.on("pageerror", lambda exc: errors.append(str(exc)))

    def answer(route: Any) -> None:
        url = urlsplit(route.request.url)
        if url.hostname != APP_HOST:
            outside.append(route.request.url)
            route.abort()
            return
        response = client.get(url.path + (f"?{url.query}" if url.query else ""))
        route.fulfill(
            status=response.status_code,
            headers={"content-type": response.headers.get("content-type", "text/plain")},
            body=response.content,
        )

    browser_page.route("**/*", answer)
    browser_page.goto(f"http://{APP_HOST}/docs")
    browser_page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    assert outside == []
    assert errors == []
    paths = browser_page.locator(".opblock-summary-path").all_inner_texts()
    assert "/v1/orders" in paths
    assert "regulars API" in browser_page.inner_text(".info .title")
