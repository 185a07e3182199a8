"""Export (GDPR art. 15) and erasure (art. 17) over every table, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from privacy_people import BOB, OLD_ID
from sqlalchemy import Engine, Text, cast, func, or_, select

from regulars.privacy import (
    EXPORT_FORMAT,
    UnknownCustomerError,
    erase_customer,
    export_customer,
    pseudonym,
)
from regulars.store.session import session_scope
from regulars.store.tables import AuditEntry, Base, Customer, Order
from regulars.wiring import customer_plan


def _needles(who: dict[str, str], *more: str) -> list[str]:
    return [who["customer_id"], who["email"], who["phone"], who["name"], *more]


def _sql_hits(engine: Engine, needles: list[str]) -> dict[str, int]:
    """Rows per table where some column, cast to text, contains a needle (any case)."""
    hits = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            found = or_(
                *(
                    cast(column, Text).icontains(needle, autoescape=True)
                    for column in table.columns
                    for needle in needles
                )
            )
            count = conn.scalar(select(func.count()).select_from(table).where(found))
            if count:
                hits[table.name] = int(count)
    return hits


def _python_hits(engine: Engine, needles: list[str]) -> list[tuple[str, str]]:
    """(table, row) pairs whose values, JSON included, mention a needle: no cast can hide it."""
    found = []
    lowered = [n.lower() for n in needles]
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)).mappings():
                text = json.dumps(dict(row), default=str, ensure_ascii=False).lower()
                if any(n in text for n in lowered):
                    found.append((table.name, text))
    return found


def test_export_holds_every_customer_table_with_exact_values(
    store_engine: Engine, anna: dict[str, str], secret: bytes
) -> None:
    with session_scope(store_engine) as session:
        document = export_customer(
            session, anna["customer_id"], actor="cli", secret=secret, plan=customer_plan()
        )
    assert document["format"] == EXPORT_FORMAT
    assert document["exported_at"].endswith("Z")
    tables = document["tables"]
    assert set(tables) == set(customer_plan().references)
    counts = {name: len(rows) for name, rows in tables.items()}
    assert counts == {
        "customers": 1,
        "consents": 1,
        "orders": 1,
        "order_lines": 2,
        "order_returns": 1,
        "events": 1,
        "customer_scores": 1,
        "customer_aliases": 1,
        "idempotency_keys": 1,
        # Her own account in 'stars': earned 59 on A-1, spent 10 from that lot. Her
        # household's account in 'family' is not hers. Her tier state in the club 'vip'.
        "loyalty_accounts": 1,
        "loyalty_entries": 2,
        "loyalty_lots": 1,
        "loyalty_lot_consumptions": 1,
        "loyalty_events": 0,
        "loyalty_deliveries": 0,
        "loyalty_rewards": 0,
        "loyalty_tier_states": 1,
        "loyalty_badges": 0,
        "loyalty_partner_transactions": 0,
        "loyalty_donations": 0,
        "loyalty_draw_winners": 0,
        "loyalty_draw_entrants": 0,
        "loyalty_memberships": 0,
        "loyalty_membership_payments": 0,
        "loyalty_referrals": 0,
    }
    assert sorted(e["points"] for e in tables["loyalty_entries"]) == [-10, 59]
    (profile,) = tables["customers"]
    assert profile["email"] == anna["email"]
    assert profile["birthday"] == "1990-05-17"
    (order,) = tables["orders"]
    assert (order["amount"], order["refunded_amount"]) == ("59.80", "19.90")
    assert order["ordered_at"] == "2026-03-01T09:00:00Z"
    assert sorted(line["line_amount"] for line in tables["order_lines"]) == ["20.00", "39.80"]
    assert tables["customer_scores"][0]["clv_12m"] == "120.50"
    assert tables["customer_aliases"][0]["alias_id"] == OLD_ID
    # Bob's rows are not in Anna's export.
    assert BOB["customer_id"] not in json.dumps(document)
    # The audit and job entries that name Anna (by id, old id or e-mail).
    actions = sorted(e["action"] for e in document["mentions"]["audit_log"])
    assert actions == ["customer.merge", "customer.update"]
    assert len(document["mentions"]["jobs"]) == 1
    (tier_event,) = document["mentions"]["loyalty_events"]
    assert tier_event["payload"]["customer_id"] == anna["customer_id"]
    json.dumps(document)  # plain JSON: no Decimal, no datetime left


def test_export_is_audited_under_the_pseudonym(
    store_engine: Engine, anna: dict[str, str], secret: bytes
) -> None:
    with session_scope(store_engine) as session:
        export_customer(
            session, anna["customer_id"], actor="apikey:x1", secret=secret, plan=customer_plan()
        )
    with session_scope(store_engine) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "customer.export")
        ).one()
    assert entry.actor == "apikey:x1"
    assert entry.target_id == pseudonym(secret, anna["customer_id"])
    assert entry.details["rows"]["orders"] == 1
    text = json.dumps([entry.target_id, entry.details]).lower()
    assert not any(n.lower() in text for n in _needles(anna, OLD_ID))


def test_erasure_leaves_nothing_personal_and_keeps_the_records_under_the_pseudonym(
    store_engine: Engine, anna: dict[str, str], secret: bytes
) -> None:
    needles = _needles(anna, OLD_ID)
    assert set(_sql_hits(store_engine, needles)) >= {"customers", "orders", "audit_log", "jobs"}

    with session_scope(store_engine) as session:
        erasure = erase_customer(
            session, anna["customer_id"], actor="cli", secret=secret, plan=customer_plan()
        )

    assert _sql_hits(store_engine, needles) == {}
    assert _python_hits(store_engine, needles) == []
    assert erasure.kept["order_lines"] == 2
    assert erasure.deleted["idempotency_keys"] == 1
    assert erasure.deleted["consents"] == erasure.deleted["customer_scores"] == 1
    assert {t: n for t, n in erasure.scrubbed.items() if n} == {
        "audit_log": 2,
        "jobs": 1,
        "loyalty_events": 1,
    }
    assert erasure.kept["loyalty_entries"] == 2
    with session_scope(store_engine) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "customer.erase")
        ).one()
        merge = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "customer.merge")
        ).one()
    assert entry.target_type == "customer"
    assert entry.target_id == pseudonym(secret, anna["customer_id"]) == erasure.pseudonym
    assert entry.details["deleted"]["customers"] == 1
    # The older entries stay, naming Anna by the same pseudonym, her old id by its own.
    assert merge.target_id == erasure.pseudonym
    assert merge.details["merged"] == [pseudonym(secret, OLD_ID)]
    assert merge.details["survivor_name"] == erasure.pseudonym
    # Her order stays, under the pseudonym, with its lines and return.
    with session_scope(store_engine) as session:
        order = session.scalars(select(Order).where(Order.order_id == "A-1")).one()
        assert order.customer_id == erasure.pseudonym
        assert order.amount == Decimal("59.80")
        ghost = session.scalars(
            select(Customer).where(Customer.customer_id == erasure.pseudonym)
        ).one()
        assert (ghost.name, ghost.email, ghost.phone, ghost.birthday) == (None, None, None, None)


def test_erasure_leaves_the_other_customer_alone(
    store_engine: Engine, anna: dict[str, str], secret: bytes
) -> None:
    before = _python_hits(store_engine, _needles(BOB))
    with session_scope(store_engine) as session:
        erase_customer(
            session, anna["customer_id"], actor="cli", secret=secret, plan=customer_plan()
        )
    assert _python_hits(store_engine, _needles(BOB)) == before
    with session_scope(store_engine) as session:
        document = export_customer(
            session, BOB["customer_id"], actor="cli", secret=secret, plan=customer_plan()
        )
    assert len(document["tables"]["order_lines"]) == 2
    assert len(document["tables"]["idempotency_keys"]) == 1


def test_unknown_customer_is_refused_and_changes_nothing(
    store_engine: Engine, anna: dict[str, str], secret: bytes
) -> None:
    for action in (export_customer, erase_customer):
        with pytest.raises(UnknownCustomerError), session_scope(store_engine) as session:
            action(session, "nobody", actor="cli", secret=secret, plan=customer_plan())
    with session_scope(store_engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 3  # the fixture's
