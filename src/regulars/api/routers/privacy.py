"""``/v1/customers/{id}/export`` and ``DELETE /v1/customers/{id}``: GDPR articles 15 and 17.

Scope ``privacy:admin`` (or ``admin``). Both are recorded in the audit log under the
customer's pseudonym; see ``docs/privacy.md``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Request, Response

from regulars.api.deps import SessionDep, require
from regulars.api.keys import PRIVACY_ADMIN, actor_of
from regulars.api.openapi import Text, problems
from regulars.api.problems import ApiProblemError
from regulars.api.schemas.admin import CustomerExport
from regulars.privacy import UnknownCustomerError, erase_customer, export_customer
from regulars.privacy.secret import server_secret
from regulars.store.session import checkpoint
from regulars.store.tables import ApiKey
from regulars.wiring import customer_plan

router = APIRouter(prefix="/customers", tags=["privacy"])

_NOT_FOUND = problems(404, d404="unknown customer")
CustomerId = Annotated[Text, Path(min_length=1, max_length=255)]
PrivacyAdmin = Annotated[ApiKey, Depends(require(PRIVACY_ADMIN))]


def secret(request: Request) -> bytes:
    """The server secret of the app's store, resolved once per app."""
    state = request.app.state
    if getattr(state, "server_secret", None) is None:
        state.server_secret = server_secret(state.engine.url)
    value: bytes = state.server_secret
    return value


SecretDep = Annotated[bytes, Depends(secret)]


def _not_found(exc: UnknownCustomerError) -> ApiProblemError:
    return ApiProblemError(404, str(exc), kind="not-found")


@router.get("/{customer_id}/export", responses=_NOT_FOUND)
def export(
    customer_id: CustomerId, session: SessionDep, key: PrivacyAdmin, server_key: SecretDep
) -> CustomerExport:
    """Everything the store holds about the customer, from every table (GDPR art. 15)."""
    try:
        document = export_customer(
            session, customer_id, actor=actor_of(key), secret=server_key, plan=customer_plan()
        )
    except UnknownCustomerError as exc:
        raise _not_found(exc) from None
    return CustomerExport.model_validate(document)


@router.delete("/{customer_id}", status_code=204, responses=_NOT_FOUND)
def erase(
    customer_id: CustomerId,
    session: SessionDep,
    key: PrivacyAdmin,
    server_key: SecretDep,
    after: BackgroundTasks,
) -> Response:
    """Erase the customer's personal data for good, keeping the business's records under a
    pseudonym (GDPR art. 17); 204 when done."""
    try:
        erase_customer(
            session, customer_id, actor=actor_of(key), secret=server_key, plan=customer_plan()
        )
    except UnknownCustomerError as exc:
        raise _not_found(exc) from None
    after.add_task(checkpoint, session.get_bind().engine)  # once the erasure is committed
    return Response(status_code=204)
