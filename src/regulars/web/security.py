"""Signed session cookies, CSRF tokens and the login throttle.

**Session cookie** ``regulars_session``: ``<user id>.<session version>.<issued at>.<mac>``,
an HMAC-SHA256 under a key derived from the server secret. It is HttpOnly, SameSite=Lax,
and Secure when the request came over HTTPS. A session ends after ``max_age`` seconds, at
logout, or for every session of a user at once when their password is reset (the version
in the cookie no longer matches the user's).

**CSRF**: every browser carries a random ``regulars_csrf`` cookie; each form sends
``csrf_token`` = HMAC(cookie) (htmx sends it as the ``X-CSRF-Token`` header). Another site
can make the browser send the cookie but cannot read it, so cannot compute the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

SESSION_COOKIE = "regulars_session"
CSRF_COOKIE = "regulars_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def _key(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, f"regulars.web.{purpose}".encode(), hashlib.sha256).digest()


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SessionClaims:
    user_id: int
    version: int
    issued_at: int


class Signer:
    """Signs and checks session cookies and CSRF tokens with keys derived from ``secret``."""

    def __init__(self, secret: bytes, *, max_age: int) -> None:
        self._session_key = _key(secret, "session")
        self._csrf_key = _key(secret, "csrf")
        self.max_age = max_age

    def session_cookie(self, user_id: int, version: int, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        body = f"{user_id}.{version}.{issued}"
        return f"{body}.{_mac(self._session_key, body)}"

    def read_session(self, cookie: str | None, now: float | None = None) -> SessionClaims | None:
        """The claims of a valid, unexpired cookie; ``None`` for anything else."""
        if not cookie:
            return None
        body, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, _mac(self._session_key, body)):
            return None
        try:
            user_id, version, issued = (int(part) for part in body.split("."))
        except ValueError:
            return None
        if (time.time() if now is None else now) - issued > self.max_age:
            return None
        return SessionClaims(user_id, version, issued)

    def csrf_token(self, csrf_cookie: str) -> str:
        return _mac(self._csrf_key, csrf_cookie)

    def csrf_valid(self, csrf_cookie: str | None, token: str | None) -> bool:
        if not csrf_cookie or not token:
            return False
        return hmac.compare_digest(token, self.csrf_token(csrf_cookie))


def new_csrf_cookie() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class LoginThrottle:
    """At most ``limit`` login attempts per client address in ``window`` seconds (per server
    process; the account lockout in :mod:`regulars.web.users` holds across processes)."""

    limit: int = 10
    window: float = 60.0
    _attempts: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, client: str, now: float | None = None) -> bool:
        moment = time.monotonic() if now is None else now
        recent = self._attempts.setdefault(client, deque())
        while recent and moment - recent[0] > self.window:
            recent.popleft()
        if len(recent) >= self.limit:
            return False
        recent.append(moment)
        if len(self._attempts) > 10_000:  # forget idle clients; bounded memory
            self._attempts = {c: d for c, d in self._attempts.items() if d}
        return True
