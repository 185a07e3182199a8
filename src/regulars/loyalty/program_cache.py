"""The programs of the running transaction, read once (:func:`loaded_programs`), and
which of them run at a moment (:func:`runs_at`, :func:`running_programs`).

Every order asks several times which programs run (the hooks' check, the points programs,
the program types' dispatch, the membership and tier multipliers); a shop has a handful of
programs, so the transaction reads the table once and keeps the list in ``session.info``
until a program is added, an ``UPDATE``/``DELETE`` names the table or the transaction rolls
back (session event listeners registered with this module).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from regulars.loyalty.tables import LoyaltyProgram


def loaded_programs(session: Session) -> list[LoyaltyProgram]:
    """Every program (any type, active or not), oldest first, read once per transaction.

    A shop has a handful of programs and an earning order asks for the running ones up to
    five times (the hooks' check, the points programs, the program types' dispatch twice,
    the membership and tier multipliers), so the transaction reads them once. The list is
    the session's own objects: a change to one is seen at once. It is forgotten when a
    program is added to the session (:func:`~regulars.loyalty.catalogue.create_program`),
    when an ``UPDATE`` or ``DELETE`` statement targets the programs table
    (:func:`regulars.loyalty.catalogue.lock_program`) and on any rollback, savepoints
    included; the next call reads the table again.
    """
    cached = session.info.get(_PROGRAMS)
    if cached is not None and cached[0] is session.get_transaction():
        return list(cached[1])
    programs = list(session.scalars(select(LoyaltyProgram).order_by(LoyaltyProgram.id)))
    session.info[_PROGRAMS] = (session.get_transaction(), programs)
    return list(programs)


_PROGRAMS = "regulars.loyalty.program_cache"


def forget_programs(session: Session) -> None:
    """Drop the transaction's :func:`loaded_programs`."""
    session.info.pop(_PROGRAMS, None)


@event.listens_for(Session, "transient_to_pending")
def _program_added(session: Session, instance: object) -> None:
    if isinstance(instance, LoyaltyProgram):
        forget_programs(session)


@event.listens_for(Session, "do_orm_execute")
def _programs_written(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and any(
        mapper.class_ is LoyaltyProgram for mapper in state.all_mappers
    ):
        forget_programs(state.session)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    forget_programs(session)


def runs_at(program: LoyaltyProgram, at: datetime) -> bool:
    """Whether ``program`` is active and ``starts_at <= at < ends_at`` (no end: open)."""
    return (
        program.active
        and program.starts_at <= at
        and (program.ends_at is None or at < program.ends_at)
    )


def running_programs(session: Session, types: Sequence[str], at: datetime) -> list[LoyaltyProgram]:
    """Active programs of ``types`` running at ``at``, oldest first (:func:`runs_at`)."""
    return [p for p in loaded_programs(session) if p.type in types and runs_at(p, at)]


def running_points_programs(session: Session, at: datetime) -> list[LoyaltyProgram]:
    """Active ``points`` programs running at ``at``, oldest first."""
    return running_programs(session, ("points",), at)
