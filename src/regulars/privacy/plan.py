"""Which rows of the store belong to one customer, found from the SQLAlchemy metadata.

A table holds a customer's data when one of its *references* leads to a row that does.
References are

* every foreign key (``orders.customer_id → customers.customer_id``,
  ``order_lines.(shop_id, order_id) → orders``, and whatever later tables add),
* a column named ``customer_id`` without a foreign key (it still names a customer),
* the few :data:`LOOSE_REFERENCES` that the schema keeps without a foreign key on purpose.

Starting from ``customers`` and following references backwards gives the *customer
tables*; for each one, :meth:`CustomerPlan.condition` builds the ``WHERE`` clause of the
customer's rows as nested ``IN (SELECT …)`` subqueries along the references. A new table
with a foreign key chain to ``customers`` is therefore exported and erased with no code
change.

Some tables name customers in free text and JSON instead (*mention tables*): the store's
audit log and job queue (:data:`STORE_TABLES`), and whatever the domains declare in their
:class:`~regulars.domain.ErasurePlan` (the loyalty outbox). Export lists their rows that
mention the customer; erasure replaces the mentions by the pseudonym. A mention table may
also be a customer table (the loyalty outbox: ``account_id`` leads to the customer's
accounts, whose events are deleted, while its rows on no account or on a shared household
account stay, their payloads naming the customer, so they are scrubbed as mentions too).
Every other table must be declared free of customer data, with the reason; a test fails
for a table that is in none of the three groups, so nobody adds personal data that erasure
would miss.

The plan needs every domain's tables and declarations: :func:`regulars.wiring.customer_plan`
builds it for the installed domains.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from graphlib import TopologicalSorter

from sqlalchemy import ColumnElement, MetaData, Table, or_, select, tuple_

from regulars.domain import ErasurePlan

CUSTOMERS = "customers"
CUSTOMER_KEY = "customer_id"


@dataclass(frozen=True)
class Reference:
    """``table.columns`` hold the values of ``target.target_columns`` of a referred row."""

    table: str
    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]


LOOSE_REFERENCES = (
    # A merged-away id: it was this customer's id before a merge.
    Reference("customer_aliases", ("alias_id",), CUSTOMERS, (CUSTOMER_KEY,)),
    # An Idempotency-Key remembers which order it created (no foreign key: the key outlives
    # nothing and must not block deleting the order).
    Reference("idempotency_keys", ("shop_id", "order_id"), "orders", ("shop_id", "order_id")),
)
"""References without a foreign key that the metadata cannot show."""

STORE_TABLES = ErasurePlan(
    deleted=(
        "customers",
        "consents",
        "events",
        "customer_scores",
        "customer_aliases",
        "idempotency_keys",
    ),
    kept={
        "orders": "sales: revenue, tax and the loyalty ledger refer to them",
        "order_lines": "what was sold, with the order",
        "order_returns": "refunds, with the order",
    },
    # Another customer's profile may name this one (``{"referred_by": "anna@…"}``): only its
    # attributes are scrubbed, never another person's name or e-mail address.
    mention_tables=("audit_log", "jobs", "customers"),
    mention_columns={"customers": ("attributes",)},
    not_customer_data={
        "products": "the catalogue",
        "product_price_history": "list prices of the catalogue",
        "product_stock_history": "stock levels of the catalogue",
        "api_keys": "credentials of the shop's API clients",
        "users": "the staff who log in to the web app (logins, roles), not customers",
        "dashboard_snapshots": "the dashboard's aggregates (KPIs, cohorts, segment sizes)",
        "shop_settings": "the shop's name, time zone, currency and locale",
    },
)
"""The erasure rules of the store's own tables: the customer tables deleted and kept, the
tables that name customers in text and JSON (scrubbed on erasure), and those that hold no
customer's data, each with the reason."""


@dataclass
class CustomerPlan:
    """The customer tables of a metadata and how to find one customer's rows in them."""

    metadata: MetaData
    deleted: tuple[str, ...] = ()
    """Customer tables whose rows of the customer are deleted on erasure."""
    kept: dict[str, str] = field(default_factory=dict)
    """Customer tables whose rows are kept on erasure, re-keyed to the pseudonym, with why."""
    mention_tables: tuple[str, ...] = ()
    """Tables whose text and JSON columns may name a customer (scrubbed on erasure)."""
    mention_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """The columns scrubbed in a mention table listed here (the others: all text and JSON)."""
    not_customer_data: dict[str, str] = field(default_factory=dict)
    """Tables that hold no customer's data, each with the reason."""
    references: dict[str, list[Reference]] = field(default_factory=dict)
    """For each customer table, its references into other customer tables."""

    @property
    def tables(self) -> list[str]:
        """The customer tables, ``customers`` first, referring tables after what they refer to."""
        graph = {name: {r.target for r in refs} for name, refs in self.references.items()}
        return list(TopologicalSorter(graph).static_order())

    def deletion_order(self) -> list[str]:
        """Referring tables before the tables they refer to, ``customers`` last."""
        return list(reversed(self.tables))

    def condition(self, table: str, customer_id: str) -> ColumnElement[bool]:
        """``WHERE`` clause of the rows of ``table`` that belong to ``customer_id``."""
        t = self.metadata.tables[table]
        if table == CUSTOMERS:
            return t.c[CUSTOMER_KEY] == customer_id
        parts = []
        for ref in self.references[table]:
            if ref.target == CUSTOMERS and ref.target_columns == (CUSTOMER_KEY,):
                parts.append(t.c[ref.columns[0]] == customer_id)  # no subquery needed
                continue
            target = self.metadata.tables[ref.target]
            keys = select(*(target.c[c] for c in ref.target_columns)).where(
                self.condition(ref.target, customer_id)
            )
            columns = [t.c[c] for c in ref.columns]
            held = columns[0] if len(columns) == 1 else tuple_(*columns)
            parts.append(held.in_(keys))
        return or_(*parts)


def customer_plan(metadata: MetaData, declarations: Sequence[ErasurePlan]) -> CustomerPlan:
    """Find the customer tables of ``metadata``; ``declarations`` are the domains' erasure
    plans, added to the store's own (:data:`STORE_TABLES`)."""
    candidates = [r for t in metadata.tables.values() for r in _references(t)]
    candidates += [r for r in LOOSE_REFERENCES if _exists(metadata, r)]
    declared = (STORE_TABLES, *declarations)
    plan = CustomerPlan(
        metadata,
        deleted=tuple(t for d in declared for t in d.deleted),
        kept={t: why for d in declared for t, why in d.kept.items()},
        mention_tables=tuple(t for d in declared for t in d.mention_tables),
        mention_columns={t: c for d in declared for t, c in d.mention_columns.items()},
        not_customer_data={t: why for d in declared for t, why in d.not_customer_data.items()},
        references={CUSTOMERS: []},
    )
    grew = True
    while grew:  # until no reference leads into a customer table any more
        grew = False
        for ref in candidates:
            if ref.target in plan.references and ref.table != ref.target:
                refs = plan.references.setdefault(ref.table, [])
                if ref not in refs:
                    refs.append(ref)
                    grew = True
    plan.references[CUSTOMERS] = []  # customers are found by their key, not by reference
    return plan


def _references(table: Table) -> Iterator[Reference]:
    """The foreign keys of ``table``, and a ``customer_id`` column without one."""
    for constraint in table.foreign_key_constraints:
        yield Reference(
            table.name,
            tuple(c.name for c in constraint.columns),
            constraint.referred_table.name,
            tuple(element.column.name for element in constraint.elements),
        )
    column = table.c.get(CUSTOMER_KEY)
    if table.name != CUSTOMERS and column is not None and not column.foreign_keys:
        yield Reference(table.name, (CUSTOMER_KEY,), CUSTOMERS, (CUSTOMER_KEY,))


def _exists(metadata: MetaData, ref: Reference) -> bool:
    tables = metadata.tables
    return (
        ref.table in tables
        and ref.target in tables
        and all(c in tables[ref.table].c for c in ref.columns)
        and all(c in tables[ref.target].c for c in ref.target_columns)
    )


def unclassified_tables(plan: CustomerPlan) -> list[str]:
    """Tables of the plan's metadata in none of the three groups (should be none).

    Such a table is neither found from ``customers``, nor scrubbed as a mention table, nor
    declared free of customer data: a new table that names customers without a foreign key
    would otherwise escape export and erasure unnoticed.
    """
    known = set(plan.references) | set(plan.mention_tables) | set(plan.not_customer_data)
    return sorted(set(plan.metadata.tables) - known)


def tables_without_erasure_rule(plan: CustomerPlan) -> list[str]:
    """Customer tables of the plan that are neither deleted nor kept, or both (should be
    none): every table that holds a customer's rows says what erasure does to them, the way
    every one has a merge rule."""
    deleted, kept = set(plan.deleted), set(plan.kept)
    return sorted(t for t in plan.references if (t in deleted) == (t in kept))


def erasure_rules(plan: CustomerPlan) -> dict[str, str]:
    """Every table of the plan's metadata and what erasure does to it: ``delete``,
    ``keep``, ``scrub`` (mentions), ``none`` (no customer's data) or ``missing``."""
    rules = {}
    for name in plan.metadata.tables:
        if name in plan.references:
            rule = "delete" if name in plan.deleted else "keep" if name in plan.kept else "missing"
        elif name in plan.mention_tables:
            rule = "scrub"
        else:
            rule = "none" if name in plan.not_customer_data else "missing"
        rules[name] = rule
    return rules
