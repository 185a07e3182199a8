"""Dependencies: one session (one transaction) per request, and API-key authentication."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from regulars.api.keys import has_scope, verify_api_key
from regulars.api.problems import ApiProblemError
from regulars.store.models import ApiKey

_bearer = HTTPBearer(auto_error=False, description="An API key: Authorization: Bearer rg_…")


def get_session(request: Request) -> Iterator[Session]:
    """A session whose transaction commits when the endpoint returns, rolls back on error."""
    factory: sessionmaker[Session] = request.app.state.sessions
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit before the response is sent, so a client never gets a 2xx for
# a write that then fails to commit (the default, "request", commits after sending).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _unauthorized(detail: str) -> ApiProblemError:
    return ApiProblemError(
        401, detail, kind="unauthorized", headers={"WWW-Authenticate": 'Bearer realm="regulars"'}
    )


def current_key(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    """The API key of the request; 401 when missing, unknown or revoked.

    Checked in the request's own session (one SELECT, no connection or transaction of its
    own), so a revocation counts from the next request on.
    """
    if credentials is None:
        raise _unauthorized("send an API key: 'Authorization: Bearer KEY'")
    key = verify_api_key(session, credentials.credentials)
    if key is None:
        raise _unauthorized("the API key is not valid or has been revoked")
    return key


def require(scope: str) -> Callable[[ApiKey], ApiKey]:
    """A dependency that demands ``scope`` (``admin`` implies every scope); 403 otherwise."""

    def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        if not has_scope(key, scope):
            raise ApiProblemError(
                403, f"this API key lacks the scope '{scope}'", kind="forbidden", scope=scope
            )
        return key

    return check
