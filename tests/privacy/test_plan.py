"""Customer tables are found from the metadata: every table is classified, new ones follow."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, ForeignKeyConstraint, Integer, MetaData, String, Table
from sqlalchemy.dialects import sqlite

from regulars.privacy.plan import erasure_rules, tables_without_erasure_rule, unclassified_tables
from regulars.wiring import MENTION_TABLES, NOT_CUSTOMER_DATA, customer_plan


def test_every_table_of_the_store_is_classified() -> None:
    """Fails when a table is added that is not found from customers, not a mention table and
    not declared free of customer data: decide, and add it to NOT_CUSTOMER_DATA if it is."""
    plan = customer_plan()
    assert unclassified_tables(plan) == []
    assert not set(NOT_CUSTOMER_DATA) & (set(plan.references) | set(MENTION_TABLES))
    # A mention table is a customer table only when rows of it also outlive the customer's
    # own: the loyalty outbox of a shared household account, another customer's attributes.
    assert set(MENTION_TABLES) & set(plan.references) == {"loyalty_events", "customers"}


def test_every_customer_table_has_an_erasure_rule() -> None:
    """Fails when a table holding a customer's rows is added without saying what erasure
    does to them (ErasurePlan.deleted or .kept), the way a table without a merge rule fails."""
    plan = customer_plan()
    assert tables_without_erasure_rule(plan) == []
    rules = erasure_rules(plan)
    assert "missing" not in rules.values()
    assert set(rules) == set(plan.metadata.tables)
    # The business's records stay (under the pseudonym); personal data goes.
    keep = {t for t, rule in rules.items() if rule == "keep"}
    assert {
        "orders",
        "loyalty_entries",
        "loyalty_partner_transactions",
        "loyalty_donations",
        "loyalty_draw_entrants",
        "loyalty_referrals",
        "loyalty_membership_payments",
    } <= keep
    assert {"customers", "consents", "events", "customer_scores", "loyalty_badges"} <= {
        t for t, rule in rules.items() if rule == "delete"
    }


def test_a_customer_table_without_an_erasure_rule_is_flagged() -> None:
    plan = customer_plan(_shop_metadata())
    assert "accounts" in tables_without_erasure_rule(plan)
    assert erasure_rules(plan)["accounts"] == "missing"


def test_the_store_customer_tables() -> None:
    plan = customer_plan()
    assert plan.tables[0] == "customers"
    assert set(plan.tables) == {
        "customers",
        "consents",
        "orders",
        "order_lines",
        "order_returns",
        "events",
        "customer_scores",
        "customer_aliases",
        "idempotency_keys",
        "loyalty_accounts",
        "loyalty_lots",
        "loyalty_entries",
        "loyalty_lot_consumptions",
        "loyalty_events",
        "loyalty_deliveries",
        "loyalty_rewards",
        "loyalty_tier_states",
        "loyalty_badges",
        "loyalty_partner_transactions",
        "loyalty_donations",
        "loyalty_draw_winners",
        "loyalty_draw_entrants",
        "loyalty_memberships",
        "loyalty_membership_payments",
        "loyalty_referrals",
    }
    order = plan.deletion_order()
    assert order[-1] == "customers"
    assert order.index("order_lines") < order.index("orders")
    assert order.index("idempotency_keys") < order.index("orders")


def _shop_metadata() -> MetaData:
    """A small schema with the shapes a later part may add."""
    metadata = MetaData()
    Table(
        "customers",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("customer_id", String, unique=True),
    )
    Table(
        "accounts",  # FK to customers
        metadata,
        Column("id", Integer, primary_key=True),
        Column("customer_id", String, ForeignKey("customers.customer_id")),
    )
    Table(
        "ledger",  # FK chain: ledger → accounts → customers, by surrogate id
        metadata,
        Column("id", Integer, primary_key=True),
        Column("account_id", Integer, ForeignKey("accounts.id")),
    )
    Table(
        "referrals",  # two FKs to customers, one by the surrogate key
        metadata,
        Column("id", Integer, primary_key=True),
        Column("referrer", String, ForeignKey("customers.customer_id")),
        Column("referee_pk", Integer, ForeignKey("customers.id")),
    )
    Table(
        "wishlist",  # names a customer without a foreign key
        metadata,
        Column("id", Integer, primary_key=True),
        Column("customer_id", String),
    )
    Table(
        "coupons",  # references through a two-column key
        metadata,
        Column("id", Integer, primary_key=True),
        Column("account_id", Integer),
        Column("ledger_id", Integer),
        ForeignKeyConstraint(["ledger_id"], ["ledger.id"]),
    )
    Table("gift_cards", metadata, Column("id", Integer, primary_key=True), Column("email", String))
    return metadata


def test_new_tables_are_found_through_foreign_key_chains() -> None:
    plan = customer_plan(_shop_metadata())
    found = {"customers", "accounts", "ledger", "referrals", "wishlist", "coupons"}
    assert set(plan.tables) == found
    assert plan.tables.index("ledger") > plan.tables.index("accounts")
    sql = str(plan.condition("coupons", "c1").compile(dialect=sqlite.dialect()))
    assert "ledger" in sql
    assert "accounts" in sql
    referrals = str(plan.condition("referrals", "c1").compile(dialect=sqlite.dialect()))
    assert "referrer = " in referrals
    assert "referee_pk IN (SELECT customers.id" in referrals


def test_a_table_naming_customers_without_a_reference_is_flagged() -> None:
    """gift_cards holds e-mail addresses but no reference: the classification test catches it."""
    assert unclassified_tables(customer_plan(_shop_metadata())) == ["gift_cards"]
