"""Merging a duplicate customer's loyalty accounts into the survivor's (customer merge).

For each program in which the duplicate holds an account ``D``, the *target* is the account
the survivor earns into now (their own, or their household's with a shared household card):

* **no target yet**: ``D`` is re-keyed to the survivor's holder; nothing else changes.
* **a target ``S``**: ``D``'s whole ledger moves into ``S`` — entries, lots (with their
  consumptions, pending periods and expiry dates unchanged) and outbox events — and

      S.balance ← S.balance + D.balance,    S.debt ← S.debt + D.debt,

  then ``D`` is deleted (it is empty). So the survivor's balance after the merge is the sum
  of both balances before, ``balance = Σ entries`` still holds in ``S``, no lot changes its
  ``remaining``, and a later return of an order the duplicate earned on reverses in ``S``
  (its earn entry and lot are there). An idempotency key of ``D`` that ``S`` already uses
  (a client that reused a key for both customers) is prefixed ``merged:<D.id>:``, so both
  operations stay recorded, each once.

Points are moved, never re-issued: no entry is written, none is lost. Household accounts of
the duplicate's household are the household's and stay where they are.

After a merge the survivor and the duplicate are one customer for the action bonuses that
are once per customer (:func:`merged_ids`): a profile or review bonus the duplicate earned
(its lot moved into the survivor's account under the duplicate's key) is not earned again
by the survivor (:func:`regulars.loyalty.service.on_profile_saved`, which the merge runs
when the duplicate's fields complete the survivor's profile). When both had earned it
before the merge, both lots stay: the merge moves points, it never takes any back.
"""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import Connection, delete, func, literal, select, update
from sqlalchemy.orm import Session

from regulars.loyalty.accounting.holders import Holder, holder_of
from regulars.loyalty.catalogue import household_rules
from regulars.loyalty.tables import (
    LoyaltyAccount,
    LoyaltyEntry,
    LoyaltyEvent,
    LoyaltyLot,
    LoyaltyProgram,
)
from regulars.store.tables import CustomerAlias

KEY_LENGTH = 255


def merged_ids(session: Session | Connection, customer_id: str) -> list[str]:
    """The ids of the customers merged into ``customer_id`` (its aliases; a customer merged
    into one that was merged into ``customer_id`` later too, as a merge moves the
    duplicate's aliases to the survivor), sorted."""
    query = select(CustomerAlias.alias_id).where(CustomerAlias.customer_id == customer_id)
    return list(session.scalars(query.order_by(CustomerAlias.alias_id)))


def merge_loyalty_accounts(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
    """Merge every loyalty account of ``duplicate_id`` into ``survivor_id``'s (see the
    module docstring), in the caller's transaction; returns how many accounts were merged."""
    accounts = conn.execute(
        select(LoyaltyAccount.id, LoyaltyAccount.program_id, LoyaltyProgram.shared_household)
        .join(LoyaltyProgram, LoyaltyProgram.id == LoyaltyAccount.program_id)
        .where(LoyaltyAccount.customer_id == duplicate_id)
        .order_by(LoyaltyAccount.id)
    ).all()
    for account_id, program_id, shared in accounts:
        holder = asdict(_survivor_holder(conn, program_id, shared, survivor_id))
        target = _target(conn, program_id, holder)
        if target is None:
            conn.execute(
                update(LoyaltyAccount).where(LoyaltyAccount.id == account_id).values(**holder)
            )
        else:
            _move_ledger(conn, account_id, target)
    return len(accounts)


def _survivor_holder(conn: Connection, program_id: int, shared: bool, survivor_id: str) -> Holder:
    """The survivor's holder in the program, as
    :func:`~regulars.loyalty.accounting.holders.holder_for` decides it (a household member of a
    shared card: the household)."""
    if not shared:
        return Holder(survivor_id, None)
    program_type, config = conn.execute(
        select(LoyaltyProgram.type, LoyaltyProgram.config).where(LoyaltyProgram.id == program_id)
    ).one()
    return holder_of(conn, True, household_rules(program_type, config), survivor_id)


def _target(conn: Connection, program_id: int, holder: dict[str, str | None]) -> int | None:
    query = select(LoyaltyAccount.id).where(LoyaltyAccount.program_id == program_id)
    if holder["customer_id"] is not None:
        query = query.where(LoyaltyAccount.customer_id == holder["customer_id"])
    else:
        query = query.where(LoyaltyAccount.household_id == holder["household_id"])
    return conn.scalar(query.with_for_update())


def _move_ledger(conn: Connection, source: int, target: int) -> None:
    """Entries, lots and events of account ``source`` into ``target``; balances added."""
    taken = select(LoyaltyEntry.idempotency_key).where(LoyaltyEntry.account_id == target)
    conn.execute(
        update(LoyaltyEntry)
        .where(LoyaltyEntry.account_id == source, LoyaltyEntry.idempotency_key.in_(taken))
        .values(
            idempotency_key=func.substr(
                literal(f"merged:{source}:") + LoyaltyEntry.idempotency_key, 1, KEY_LENGTH
            )
        )
    )
    for table in (LoyaltyEntry, LoyaltyLot, LoyaltyEvent):
        conn.execute(update(table).where(table.account_id == source).values(account_id=target))
    balance, debt = conn.execute(
        select(LoyaltyAccount.balance, LoyaltyAccount.debt).where(LoyaltyAccount.id == source)
    ).one()
    conn.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.id == target)
        .values(balance=LoyaltyAccount.balance + balance, debt=LoyaltyAccount.debt + debt)
    )
    conn.execute(delete(LoyaltyAccount).where(LoyaltyAccount.id == source))
