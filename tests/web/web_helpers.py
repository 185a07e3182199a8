"""Helpers of the web app's tests: the test secret and password, logging in."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient

SECRET = b"a test secret of more than thirty-two bytes"
PASSWORD = "correct horse battery"
LATEST = datetime(2026, 11, 30, 12, tzinfo=UTC)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF field"
    return found.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD, next: str = "/") -> None:
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next},
    )
    assert answer.status_code == 303, answer.text
