"""What a domain contributes to the rest of the product, declared in one value.

A domain (scoring, customer merging, privacy, loyalty; later engagement, listening,
support) reacts to what happens elsewhere and adds to shared features, without the
others knowing it exists. It says how in one :class:`Contribution`, built in its package's
``contribution`` module:

* **hooks** run in the transaction that records a new order, return, event or profile
  save (the API's services call them once per *created* row, never for a replay; an
  exception rolls the write back): ``(session, stored row)``;
* **merge rules** move the domain's customer-keyed rows from a merged duplicate to the
  survivor (:class:`MergeRule`);
* **Customer 360 sections** add a member to the customer's 360 view (:data:`Section`);
* **jobs** are the background work the worker runs
  (:class:`~regulars.worker.registry.Registration`);
* the **erasure plan** declares the domain's tables that privacy cannot find from the
  foreign keys (:class:`ErasurePlan`).

:mod:`regulars.wiring` lists every domain's contribution, once, for the API, the worker
and the CLI; a new domain plugs in by adding one line there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from regulars.store.tables import Customer, Event, Order, OrderReturn
from regulars.worker.registry import Registration

Profile = Mapping[str, object]
"""A customer's plain profile fields (:data:`regulars.customers.profile.PROFILE_FIELDS`)."""

OrderHook = Callable[[Session, Order], None]
ReturnHook = Callable[[Session, OrderReturn], None]
EventHook = Callable[[Session, Event], None]
ProfileHook = Callable[[Session, str, Profile | None, Profile], None]
"""``(session, customer_id, before, after)``; ``before`` is None for a new customer."""

Section = Callable[[Session, Customer], object]
"""A Customer 360 section: its value for one customer, as JSON-ready data (dicts, lists,
numbers, strings) that the API's schema for that member validates."""


@dataclass(frozen=True)
class MergeRule:
    """One kind of data a customer merge moves from the duplicate to the survivor.

    ``merge(conn, survivor_id, duplicate_id)`` runs in the merge's transaction and returns
    the rows it affected (recorded in the merge's audit entry under ``name``). ``tables``
    are the customer-keyed tables it handles: a table with a foreign key to ``customers``
    that no rule names would lose its rows with the duplicate, and a test fails for it.
    """

    name: str
    tables: tuple[str, ...]
    merge: Callable[[Connection, str, str], int]


@dataclass(frozen=True)
class ErasurePlan:
    """What privacy needs to be told about a domain's tables (``docs/privacy.md``).

    Tables with a foreign-key chain to ``customers`` (*customer tables*) are found on their
    own, and each needs an erasure rule, the way each needs a merge rule: ``deleted`` tables
    hold personal data only (the customer's rows go), ``kept`` tables hold the business's
    records (money, audit: the rows stay, the customer's key becomes the pseudonym and their
    text is scrubbed), each with the reason. The other tables are declared too:
    ``mention_tables`` name customers in free text or JSON (scrubbed on erasure; only in
    ``mention_columns`` where a table is listed there), ``not_customer_data`` maps each table
    that holds nobody's data to the reason. A test fails for a table without a rule.
    """

    deleted: tuple[str, ...] = ()
    kept: Mapping[str, str] = field(default_factory=dict)
    mention_tables: tuple[str, ...] = ()
    mention_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    not_customer_data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Contribution:
    """Everything one domain adds to the others (see the module docstring)."""

    domain: str
    order_hooks: tuple[OrderHook, ...] = ()
    cancel_hooks: tuple[OrderHook, ...] = ()
    """Run when a recorded order is cancelled, after its reversal return's hooks."""
    return_hooks: tuple[ReturnHook, ...] = ()
    event_hooks: tuple[EventHook, ...] = ()
    profile_hooks: tuple[ProfileHook, ...] = ()
    merge_rules: tuple[MergeRule, ...] = ()
    sections: Mapping[str, Section] = field(default_factory=dict)
    jobs: tuple[Registration, ...] = ()
    erasure: ErasurePlan = field(default_factory=ErasurePlan)
