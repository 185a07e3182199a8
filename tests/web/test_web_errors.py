"""Pages answer errors with the app's error page; the API keeps problem+json."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from web_helpers import SECRET

from regulars.web.app import create_app


def test_a_bad_value_in_the_address_is_the_apps_page(
    login: Callable[[str], TestClient],
) -> None:
    client = login("owner")
    page = client.get("/?days=abc")
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "not valid (days)" in page.text
    long_search = client.get("/customers", params={"q": "x" * 5000})
    assert (long_search.status_code, long_search.headers["content-type"][:9]) == (422, "text/html")


def test_an_unknown_page_is_a_404_page_and_the_api_keeps_json(
    login: Callable[[str], TestClient],
) -> None:
    client = login("viewer")
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    api = client.get("/v1/no-such-thing")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    invalid = client.get("/v1/customers?limit=abc")
    assert invalid.headers["content-type"] == "application/problem+json"


def test_a_bug_on_a_page_is_the_apps_500_page(store_engine: Engine) -> None:
    app = create_app(store_engine, secret=SECRET)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/v1/boom")
    def api_boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/boom")
        assert page.status_code == 500
        assert page.headers["content-type"].startswith("text/html")
        assert "it was logged" in page.text
        assert "a bug" not in page.text
        api = client.get("/v1/boom")
        assert (api.status_code, api.headers["content-type"]) == (500, "application/problem+json")
