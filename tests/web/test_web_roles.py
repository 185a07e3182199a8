"""Every page and form × every role: allowed is answered, forbidden is a 403 page (never a
silent 200), and without a session every page sends to the login."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from web_helpers import csrf_of

from regulars.store.tables import USER_ROLES
from regulars.web.app import PAGES
from regulars.web.roles import ROLE_PERMISSIONS, Permission

# (method, path, what the route needs); a POST carries the page's CSRF token and no data.
ROUTES: list[tuple[str, str, Permission]] = [
    ("GET", "/", Permission.DASHBOARD),
    ("POST", "/dashboard/refresh", Permission.DASHBOARD_REFRESH),
    ("GET", "/segments", Permission.DASHBOARD),
    ("GET", "/customers", Permission.CUSTOMERS),
    ("GET", "/customers.csv", Permission.CUSTOMERS_EXPORT),
    ("GET", "/customers/c1", Permission.CUSTOMERS),
    ("GET", "/loyalty", Permission.LOYALTY),
    ("POST", "/loyalty/club/state", Permission.LOYALTY_WRITE),
    ("GET", "/loyalty/new", Permission.LOYALTY_WRITE),
    ("POST", "/loyalty/new", Permission.LOYALTY_WRITE),
    ("GET", "/loyalty/club/edit", Permission.LOYALTY_WRITE),
    ("POST", "/loyalty/club/edit", Permission.LOYALTY_WRITE),
    ("GET", "/loyalty/club", Permission.LOYALTY),
    ("GET", "/loyalty/club/economics", Permission.LOYALTY),
    ("GET", "/loyalty/club/effect", Permission.LOYALTY),
    ("GET", "/loyalty/club/simulate", Permission.LOYALTY),
    ("GET", "/settings", Permission.IMPORT),
    ("GET", "/settings/shop", Permission.SETTINGS),
    ("POST", "/settings/shop", Permission.SETTINGS),
    ("GET", "/settings/users", Permission.SETTINGS),
    ("POST", "/settings/users", Permission.SETTINGS),
    ("POST", "/settings/users/nobody/role", Permission.SETTINGS),
    ("GET", "/settings/webhooks", Permission.SETTINGS),
    ("POST", "/settings/webhooks", Permission.SETTINGS),
    ("POST", "/settings/webhooks/99/disable", Permission.SETTINGS),
    ("GET", "/settings/import", Permission.IMPORT),
    ("POST", "/settings/import", Permission.IMPORT),
    ("GET", "/settings/import/rejects/gone.csv", Permission.IMPORT),
    ("GET", "/settings/keys", Permission.SETTINGS),
    ("POST", "/settings/keys", Permission.SETTINGS),
    ("POST", "/settings/keys/unknown/revoke", Permission.SETTINGS),
]
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}


def _app_routes() -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for module in PAGES
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }


def test_the_matrix_covers_every_page() -> None:
    listed = {
        (
            m,
            p.replace("c1", "{customer_id}")
            .replace("unknown", "{prefix}")
            .replace("club", "{code}")
            .replace("nobody/role", "{username}/{change}")
            .replace("99/disable", "{endpoint_id}/{change}")
            .replace("rejects/gone", "rejects/{token}"),
        )
        for m, p, _ in ROUTES
    }
    assert _app_routes() - PUBLIC == listed


def test_the_owner_may_do_everything() -> None:
    assert ROLE_PERMISSIONS["owner"] == frozenset(Permission)
    assert Permission.LOYALTY_WRITE not in ROLE_PERMISSIONS["agent"]
    assert all(p.value.endswith(":read") for p in ROLE_PERMISSIONS["viewer"])


@pytest.mark.parametrize("role", USER_ROLES)
def test_every_route_for_every_role(
    role: str, login: Callable[[str], TestClient], shop: None, program: str
) -> None:
    client = login(role)
    token = csrf_of(_any_form(client))
    for method, path, needed in ROUTES:
        if method == "GET":
            answer = client.get(path)
        else:
            answer = client.post(path, data={"csrf_token": token})
        if needed in ROLE_PERMISSIONS[role]:
            assert answer.status_code in (200, 303, 404, 422), (role, method, path)
            assert answer.status_code != 403
        else:
            assert answer.status_code == 403, (role, method, path, answer.status_code)
            assert "Not allowed" in answer.text


def _any_form(client: TestClient) -> str:
    """A page with a form (every signed-in page has the log-out form)."""
    return client.get("/").text


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in ROUTES])
def test_without_a_session_every_route_sends_to_the_login(
    web: TestClient, method: str, path: str
) -> None:
    web.cookies.clear()
    token = csrf_of(web.get("/login").text)  # a form of a session that expired since
    answer = web.request(method, path, data={"csrf_token": token} if method == "POST" else None)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")
