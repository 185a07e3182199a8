"""The composition root: every domain's contributions, installed once.

Each domain declares what it adds to the others in one
:class:`~regulars.domain.Contribution` (hooks, merge rules, Customer 360 sections, jobs,
erasure plan). This module lists them in :data:`CONTRIBUTIONS` and derives what the edges
use: the API's services run the hooks and merge rules and build the Customer 360 from
these, ``regulars worker`` runs :func:`job_registry`, export and erasure (API and CLI) use
:func:`customer_plan`, and the migrations compare against :data:`METADATA`. Importing this
module imports every domain, so their tables are all in the store's metadata.

A new domain plugs in with one line in :data:`CONTRIBUTIONS`. Order matters where noted:
hooks run, merge rules apply and Customer 360 sections appear in the order listed.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from regulars.customers.contribution import CONTRIBUTION as CUSTOMERS
from regulars.customers.merge import MergeFunction
from regulars.domain import (
    Contribution,
    EventHook,
    OrderHook,
    ProfileHook,
    ReturnHook,
    Section,
)
from regulars.loyalty.contribution import CONTRIBUTION as LOYALTY
from regulars.privacy.plan import CustomerPlan
from regulars.privacy.plan import customer_plan as plan_for
from regulars.scoring.contribution import CONTRIBUTION as SCORING
from regulars.store.tables import Base
from regulars.worker.builtin import PRUNE_JOBS
from regulars.worker.registry import Registry

CONTRIBUTIONS: tuple[Contribution, ...] = (
    CUSTOMERS,  # first: the store's own rows move before any domain's merge rule runs
    SCORING,
    LOYALTY,
)
"""The installed domains."""

METADATA: MetaData = Base.metadata
"""The store's tables, every domain's included (they registered when imported above)."""

ORDER_RECORDED: list[OrderHook] = [h for c in CONTRIBUTIONS for h in c.order_hooks]
ORDER_CANCELLED: list[OrderHook] = [h for c in CONTRIBUTIONS for h in c.cancel_hooks]
RETURN_RECORDED: list[ReturnHook] = [h for c in CONTRIBUTIONS for h in c.return_hooks]
EVENT_RECORDED: list[EventHook] = [h for c in CONTRIBUTIONS for h in c.event_hooks]
PROFILE_SAVED: list[ProfileHook] = [h for c in CONTRIBUTIONS for h in c.profile_hooks]

MERGE_RULES: dict[str, MergeFunction] = {
    rule.name: rule.merge for c in CONTRIBUTIONS for rule in c.merge_rules
}
"""What a customer merge does to each kind of data referring to the duplicate, in order."""
MERGED_TABLES: dict[str, tuple[str, ...]] = {
    rule.name: rule.tables for c in CONTRIBUTIONS for rule in c.merge_rules
}
"""The customer-keyed tables each rule of :data:`MERGE_RULES` handles."""

SECTIONS: dict[str, Section] = {
    name: section for c in CONTRIBUTIONS for name, section in c.sections.items()
}
"""The domains' Customer 360 sections by member name."""


def job_registry() -> Registry:
    """Every background job of the product: the worker's own (``jobs.prune``) and each
    domain's, by kind."""
    registry = Registry()
    for registration in (PRUNE_JOBS, *(job for c in CONTRIBUTIONS for job in c.jobs)):
        registry.add(registration)
    return registry


def customer_plan(metadata: MetaData | None = None) -> CustomerPlan:
    """Where one customer's data is, in every installed domain's tables
    (:mod:`regulars.privacy.plan`); ``metadata`` defaults to :data:`METADATA`, whose plan
    is found once."""
    if metadata is None:
        return _PLAN
    return plan_for(metadata, [c.erasure for c in CONTRIBUTIONS])


_PLAN = plan_for(METADATA, [c.erasure for c in CONTRIBUTIONS])

MENTION_TABLES: tuple[str, ...] = _PLAN.mention_tables
"""Tables whose text and JSON columns may name a customer (scrubbed on erasure)."""
NOT_CUSTOMER_DATA: dict[str, str] = _PLAN.not_customer_data
"""Tables that hold no customer's data, each with the reason."""


def tables_without_merge_rule(metadata: MetaData) -> list[str]:
    """The tables of ``metadata`` with a foreign key to ``customers`` that no rule of
    :data:`MERGE_RULES` handles (:data:`MERGED_TABLES`), sorted: their rows would be deleted
    with a merged duplicate."""
    handled = {table for tables in MERGED_TABLES.values() for table in tables}
    keyed = {
        table.name
        for table in metadata.tables.values()
        for key in table.foreign_keys
        if key.column.table.name == "customers" and table.name != "customers"
    }
    return sorted(keyed - handled)
