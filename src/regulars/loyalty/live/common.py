"""What the live program types share: typed access to a program and a program-wide lock."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.accounts import ProgramError, running_points_programs
from regulars.loyalty.tables import LoyaltyProgram

ConfigT = TypeVar("ConfigT", bound=BaseModel)


def program_config(program: LoyaltyProgram, kind: str, model: type[ConfigT]) -> ConfigT:
    """The validated config of ``program``; :class:`ProgramError` when it is another type."""
    if program.type != kind:
        raise ProgramError(f"program '{program.code}' is a '{program.type}' program, not {kind}")
    return model.model_validate(program.config)


def lock_program(session: Session, program: LoyaltyProgram) -> None:
    """Serialise writes that read program-wide totals (a charity cap, a draw).

    A no-op ``UPDATE`` of the program row: a row lock on PostgreSQL, the database write
    lock on SQLite, both held until commit.
    """
    session.execute(
        update(LoyaltyProgram)
        .where(LoyaltyProgram.id == program.id)
        .values(code=LoyaltyProgram.code)
    )


def points_program(session: Session, code_or_program: LoyaltyProgram | None) -> LoyaltyProgram:
    """The ``points`` program whose accounts a donation is paid from: the one given, or the
    oldest running one."""
    if code_or_program is not None:
        if code_or_program.type != "points":
            raise ProgramError(f"program '{code_or_program.code}' is not a points program")
        return code_or_program
    running = running_points_programs(session, utcnow())
    if not running:
        raise ProgramError("no running points program to pay the donation from")
    return running[0]


def program_of_type(session: Session, code: str | None, kind: str) -> LoyaltyProgram:
    """The program ``code`` (which must be of type ``kind``), or without a code the oldest
    active program of that type; :class:`ProgramError` when there is none."""
    query = select(LoyaltyProgram).where(LoyaltyProgram.type == kind)
    if code is not None:
        query = query.where(LoyaltyProgram.code == code)
    else:
        query = query.where(LoyaltyProgram.active.is_(True))
    found = session.scalars(query.order_by(LoyaltyProgram.id).limit(1)).first()
    if found is None:
        named = f"'{code}'" if code else "active"
        raise ProgramError(f"no {named} {kind} program")
    return found
