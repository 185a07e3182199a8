"""Administration, scope ``admin``: the audit log (``/v1/audit``) and API keys (``/v1/apikeys``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from regulars.api.deps import SessionDep, require
from regulars.api.keys import (
    ADMIN,
    UnknownApiKeyError,
    actor_of,
    add_api_key,
    list_api_keys,
    revoke_api_key,
)
from regulars.api.openapi import Text, problems
from regulars.api.problems import ApiProblemError
from regulars.api.schemas import UTCTime
from regulars.api.schemas.admin import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyList,
    ApiKeyOut,
    AuditEntryOut,
    AuditPageOut,
)
from regulars.errors import RegularsError
from regulars.privacy import AuditFilter, audit_page
from regulars.privacy.audit_log import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from regulars.store.pages import InvalidCursorError
from regulars.store.tables import ApiKey

router = APIRouter(tags=["administration"])

Admin = Annotated[ApiKey, Depends(require(ADMIN))]


def _invalid(where: str, field: str, message: str) -> ApiProblemError:
    """A 422 shaped like the validation errors FastAPI reports."""
    return ApiProblemError(
        422,
        "the request is not valid; see errors",
        kind="validation-error",
        errors=[{"in": where, "field": field, "message": message, "type": "value_error"}],
    )


@router.get("/audit", responses=problems())
def audit(
    session: SessionDep,
    _key: Admin,
    action: Annotated[Text | None, Query(max_length=64)] = None,
    target_type: Annotated[Text | None, Query(max_length=64)] = None,
    since: Annotated[UTCTime | None, Query(description="Entries at or after this time.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[Text | None, Query(max_length=200)] = None,
) -> AuditPageOut:
    """The audit log, newest first, one page at a time (pass `next_cursor` as `cursor`)."""
    where = AuditFilter(action=action, target_type=target_type, since=since)
    try:
        page = audit_page(session, where, limit=limit, cursor=cursor)
    except InvalidCursorError as exc:
        raise _invalid("query", "cursor", str(exc)) from None
    return AuditPageOut(
        items=[AuditEntryOut.model_validate(e, from_attributes=True) for e in page.entries],
        next_cursor=page.next_cursor,
    )


@router.get("/apikeys", responses=problems())
def get_api_keys(session: SessionDep, _key: Admin) -> ApiKeyList:
    """Every API key (revoked ones too): name, prefix, scopes, created, revoked; no secrets."""
    return ApiKeyList(
        items=[ApiKeyOut.model_validate(k, from_attributes=True) for k in list_api_keys(session)]
    )


@router.post("/apikeys", status_code=201, responses=problems(body=True))
def create_api_key(body: ApiKeyIn, session: SessionDep, key: Admin) -> ApiKeyCreated:
    """Create an API key; the full key is in this response only."""
    try:
        row, full_key = add_api_key(session, body.name, body.scopes, actor=actor_of(key))
    except RegularsError as exc:  # an unknown scope
        raise _invalid("body", "scopes", str(exc)) from None
    listed = ApiKeyOut.model_validate(row, from_attributes=True)
    return ApiKeyCreated(**listed.model_dump(), key=full_key)


@router.delete(
    "/apikeys/{prefix}",
    status_code=204,
    responses=problems(404, d404="no key with this prefix"),
)
def delete_api_key(
    prefix: Annotated[Text, Path(min_length=1, max_length=32)], session: SessionDep, key: Admin
) -> Response:
    """Revoke the key: it gets 401 from then on. Revoking it again changes nothing (204)."""
    try:
        revoke_api_key(session, prefix, actor=actor_of(key))
    except UnknownApiKeyError as exc:
        raise ApiProblemError(404, str(exc), kind="not-found") from None
    return Response(status_code=204)
