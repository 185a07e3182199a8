"""Logging in and out: argon2 passwords, lockout, throttle, CSRF, expiry, the way back to
the page asked for, and the audit entries."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from web_helpers import PASSWORD, SECRET, csrf_of, log_in

from regulars.store.session import session_scope
from regulars.store.tables import AuditEntry, User
from regulars.web.app import create_app
from regulars.web.pages.auth import safe_next
from regulars.web.security import SESSION_COOKIE, LoginThrottle, Signer
from regulars.web.users import MAX_FAILED_LOGINS, reset_password


def _post_login(client: TestClient, username: str, password: str, next: str = "/") -> object:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next},
    )


def test_a_page_without_a_session_goes_to_the_login_and_back(web: TestClient) -> None:
    asked = web.get("/customers?q=anna")
    assert asked.status_code == 303
    assert asked.headers["location"] == "/login?next=%2Fcustomers%3Fq%3Danna"
    login_page = web.get(asked.headers["location"])
    assert 'name="next" value="/customers?q=anna"' in login_page.text
    answer = _post_login(web, "owner", PASSWORD, "/customers?q=anna")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/customers?q=anna"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert web.get("/customers?q=anna").status_code == 200


def test_an_expired_session_asks_to_log_in_again(
    store_engine: Engine, users: dict[str, str]
) -> None:
    with TestClient(
        create_app(store_engine, secret=SECRET, session_max_age=60), follow_redirects=False
    ) as client:
        log_in(client, "viewer")
        assert client.get("/").status_code == 200
        with session_scope(store_engine) as session:
            user_id = session.scalars(select(User.id).where(User.username == "viewer")).one()
        old = Signer(SECRET, max_age=60).session_cookie(user_id, 0, now=1_000_000)
        client.cookies.set(SESSION_COOKIE, old)
        answer = client.get("/customers")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=%2Fcustomers"


def test_a_tampered_cookie_is_no_session(web: TestClient) -> None:
    log_in(web, "viewer")
    cookie = web.cookies[SESSION_COOKIE]
    user_id, rest = cookie.split(".", 1)
    web.cookies.set(SESSION_COOKIE, f"{int(user_id) + 1}.{rest}")  # another user's id
    assert web.get("/").status_code == 303


def test_a_wrong_password_keeps_the_username_and_says_so(web: TestClient) -> None:
    answer = _post_login(web, "owner", "not the password")
    assert answer.status_code == 400
    assert "Wrong username or password" in answer.text
    assert 'value="owner"' in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


def test_repeated_wrong_passwords_lock_the_account(web: TestClient, store_engine: Engine) -> None:
    for _ in range(MAX_FAILED_LOGINS):
        _post_login(web, "agent", "wrong password!")
    locked = _post_login(web, "agent", PASSWORD)  # even the right one, while locked
    assert locked.status_code == 400
    assert "locked" in locked.text
    with session_scope(store_engine) as session:
        reset_password(session, "agent", "a brand new password", actor="test")
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "user.lock" in actions
    assert "user.reset_password" in actions
    assert _post_login(web, "agent", "a brand new password").status_code == 303


def test_the_login_is_throttled_per_client(web: TestClient) -> None:
    web.app.state.web.throttle = LoginThrottle(limit=3, window=60)  # type: ignore[attr-defined]
    codes = [_post_login(web, "nobody", "whatever!!").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]


def test_a_form_without_its_csrf_token_is_refused(web: TestClient) -> None:
    web.get("/login")
    answer = web.post("/login", data={"username": "owner", "password": PASSWORD})
    assert answer.status_code == 403
    assert "Form expired" in answer.text
    forged = web.post(
        "/login", data={"username": "owner", "password": PASSWORD, "csrf_token": "0" * 64}
    )
    assert forged.status_code == 403


def test_a_password_reset_ends_every_open_session(
    login: Callable[[str], TestClient], store_engine: Engine
) -> None:
    client = login("marketer")
    assert client.get("/").status_code == 200
    with session_scope(store_engine) as session:
        reset_password(session, "marketer", "another long password", actor="test")
    assert client.get("/").status_code == 303


def test_logout_ends_the_session_and_is_audited(
    login: Callable[[str], TestClient], store_engine: Engine
) -> None:
    client = login("viewer")
    token = csrf_of(client.get("/").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/").status_code == 303
    with session_scope(store_engine) as session:
        entries = session.execute(select(AuditEntry.actor, AuditEntry.action)).all()
    assert ("user:viewer", "user.login") in entries
    assert ("user:viewer", "user.logout") in entries


def test_after_login_only_local_pages() -> None:
    assert safe_next("/customers?q=a") == "/customers?q=a"
    for outside in ("//evil.example/", "https://evil.example/", "\\\\evil", "", None, "/\\evil"):
        assert safe_next(outside) == "/"
