"""``/v1/customers``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from regulars.api import services
from regulars.api.deps import SessionDep, require
from regulars.api.problems import PROBLEM_JSON
from regulars.api.schemas import CustomerIn, CustomerOut

router = APIRouter(prefix="/customers", tags=["customers"])

_PROBLEM: dict[str, Any] = {"content": {PROBLEM_JSON: {}}}


@router.post(
    "",
    status_code=201,
    dependencies=[Depends(require("customers:write"))],
    responses={409: {"description": "customer_id already exists", **_PROBLEM}},
)
def create_customer(body: CustomerIn, session: SessionDep) -> CustomerOut:
    """Create a customer profile (with consents)."""
    return services.create_customer(session, body)


@router.get(
    "/{customer_id}",
    dependencies=[Depends(require("customers:read"))],
    responses={404: {"description": "unknown customer", **_PROBLEM}},
)
def get_customer(
    customer_id: Annotated[str, Path(min_length=1, max_length=255)], session: SessionDep
) -> CustomerOut:
    """Customer 360: profile, purchase statistics, consents and scores."""
    return services.customer_360(session, customer_id)
