"""Dependencies: one session (one transaction) per request, and API-key authentication.

A sync dependency costs a hop to the thread pool and back, so only those that talk to the
database are sync: the key lookup and the end of the transaction. The session is created
on the event loop (it connects lazily, at its first statement) and the scope check runs
there too.

**Bounded transactions.** A process runs at most :func:`transaction_slots` transactions at
once; more requests wait on the event loop for a slot, holding no thread and no
connection. Without the bound, requests blocked on row locks (the same new customer, the
same loyalty account) could occupy every thread of FastAPI's pool while the request
holding the lock waits for a thread to serialize its response — before its commit, which
runs after the response is built — and the process would hang with no timeout. With at
most one transaction per thread, a transaction never waits for a thread, and with one
connection of the pool to spare, never for a connection either (an endpoint may open a
second one).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated
from weakref import WeakKeyDictionary

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import State

from regulars.api.keys import has_scope, verify_api_key
from regulars.api.problems import ApiProblemError
from regulars.store.tables import ApiKey

_bearer = HTTPBearer(auto_error=False, description="An API key: Authorization: Bearer rg_…")


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session whose transaction commits when the endpoint returns, rolls back on error.

    It waits for one of the process's transaction slots first. The commit (or, after an
    error, the rollback that closing does) is shielded from cancellation: a request whose
    client went away still ends its transaction and returns its connection.
    """
    factory: sessionmaker[Session] = request.app.state.sessions
    async with _slots(request.app.state):
        session = factory()
        try:
            yield session
        except BaseException:
            await _shielded(session.close)
            raise
        await _shielded(_commit_and_close, session)


async def _shielded(function: Callable[..., None], *args: Session) -> None:
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(function, *args)


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    finally:
        session.close()  # rolls back if the commit failed


def transaction_slots(engine: Engine, threads: int) -> int:
    """How many transactions a process runs at once: ``max(1, min(pool size, threads) − 1)``
    for ``engine``'s pool of connections and ``threads`` threads in the thread pool (the
    thread count stands in for the pool size of a pool without one)."""
    pool_size = getattr(engine.pool, "size", lambda: threads)()
    return max(1, min(pool_size, threads) - 1)


def _slots(state: State) -> asyncio.Semaphore:
    """The app's transaction slots on the running event loop (one set per loop: a test
    client runs the app on a loop of its own each time)."""
    loop = asyncio.get_running_loop()
    per_loop: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = state.slots
    if loop not in per_loop:
        threads = int(anyio.to_thread.current_default_thread_limiter().total_tokens)
        per_loop[loop] = asyncio.Semaphore(transaction_slots(state.engine, threads))
    return per_loop[loop]


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
