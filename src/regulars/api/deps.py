"""Dependencies: one session (one transaction) per request, and API-key authentication.

A sync dependency costs a hop to the thread pool and back, so only those that talk to the
database are sync: the key lookup and the end of the transaction. The session is created
on the event loop (it connects lazily, at its first statement) and the scope check runs
there too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from regulars.api.keys import has_scope, verify_api_key
from regulars.api.problems import ApiProblemError
from regulars.store.models import ApiKey

_bearer = HTTPBearer(auto_error=False, description="An API key: Authorization: Bearer rg_…")


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session whose transaction commits when the endpoint returns, rolls back on error.

    The commit (or, after an error, the rollback that closing does) runs in the thread
    pool, shielded from cancellation: a request whose client went away still ends its
    transaction and returns its connection.
    """
    factory: sessionmaker[Session] = request.app.state.sessions
    session = factory()
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(session.close)
        raise
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_commit_and_close, session)


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    finally:
        session.close()  # rolls back if the commit failed


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


def require(scope: str) -> Callable[[ApiKey], Awaitable[ApiKey]]:
    """A dependency that demands ``scope`` (``admin`` implies every scope); 403 otherwise."""

    async def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        if not has_scope(key, scope):
            raise ApiProblemError(
                403, f"this API key lacks the scope '{scope}'", kind="forbidden", scope=scope
            )
        return key

    return check
