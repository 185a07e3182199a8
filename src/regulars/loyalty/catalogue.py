"""The program catalogue: the program types a program may have, creating and finding
programs, and reading a stored program's config by its type's model.

A program's ``config`` is validated by the config model of its ``type`` in the one registry
of program types, the discriminated union :data:`regulars.loyalty.program_types.ProgramConfig`
(:data:`~regulars.loyalty.program_types.PROGRAM_MODELS` reads the model of each type off
it): a ``points`` program's is
:class:`~regulars.loyalty.program_types.bonus.PointsProgramConfig`, the others are the types
:mod:`regulars.loyalty.program_store` runs. A program-wide lock (:func:`lock_program`)
serialises writes that read program-wide totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.errors import ProgramError
from regulars.loyalty.program_cache import running_points_programs
from regulars.loyalty.program_types import (
    PROGRAM_MODELS,
    PROGRAM_TYPES,
    PointsProgramConfig,
    ProgramConfig,
    parse_program_config,
)
from regulars.loyalty.program_types.household import HouseholdRules
from regulars.loyalty.tables import SHORTFALL_POLICIES, LoyaltyProgram


def program_types() -> list[str]:
    return sorted(PROGRAM_TYPES)


def validate_config(program_type: str, config: dict[str, Any]) -> BaseModel:
    """``config`` validated by the model of ``program_type`` (a ``type`` key in it must
    agree); raises :class:`~regulars.loyalty.errors.ProgramError` for an unknown or
    disagreeing type and :class:`pydantic.ValidationError` (locations relative to the
    config) for a bad config."""
    model = PROGRAM_MODELS.get(program_type)
    if model is None:
        raise ProgramError(
            f"unknown program type '{program_type}'; known: {', '.join(program_types())}"
        )
    stated = config.get("type", program_type)
    if stated != program_type:
        raise ProgramError(f"config.type '{stated}' is not the program type '{program_type}'")
    return model.model_validate({**config, "type": program_type})


@dataclass(frozen=True)
class ProgramSpec:
    code: str
    name: str
    type: str
    config: dict[str, Any]
    currency: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    shared_household: bool = False
    shortfall_policy: str = "allow_negative"
    active: bool = True


def create_program(session: Session, spec: ProgramSpec) -> LoyaltyProgram:
    """Store a new program; :class:`~regulars.loyalty.errors.ProgramError` when the code is
    taken."""
    if spec.shortfall_policy not in SHORTFALL_POLICIES:
        raise ProgramError(
            f"unknown shortfall_policy '{spec.shortfall_policy}'; "
            f"use {', '.join(SHORTFALL_POLICIES)}"
        )
    config = validate_config(spec.type, spec.config)
    if (
        isinstance(config, PointsProgramConfig)
        and config.household != HouseholdRules()
        and not spec.shared_household
    ):
        raise ProgramError(
            "config.household only applies with shared_household: true; "
            "set it or leave the household section out"
        )
    if find_program(session, spec.code) is not None:
        raise ProgramError(f"a program with code '{spec.code}' exists")
    if spec.starts_at and spec.ends_at and spec.ends_at <= spec.starts_at:
        raise ProgramError("ends_at must be after starts_at")
    program = LoyaltyProgram(
        code=spec.code,
        name=spec.name,
        type=spec.type,
        config=config.model_dump(mode="json"),
        active=spec.active,
        starts_at=spec.starts_at or utcnow(),
        ends_at=spec.ends_at,
        currency=spec.currency,
        shared_household=spec.shared_household,
        shortfall_policy=spec.shortfall_policy,
        created_at=utcnow(),
    )
    session.add(program)
    session.flush()
    return program


def find_program(session: Session, code: str) -> LoyaltyProgram | None:
    return session.scalars(select(LoyaltyProgram).where(LoyaltyProgram.code == code)).one_or_none()


def list_programs(session: Session) -> list[LoyaltyProgram]:
    return list(session.scalars(select(LoyaltyProgram).order_by(LoyaltyProgram.id)))


PROGRAM_ACTIONS = ("pause", "resume", "end")
"""What an operator may do to a program: pause it (it earns and runs nothing until resumed),
resume it, or end it for good (``ends_at`` = now; balances stay, the ledger is kept)."""


class Scheduled(Protocol):
    """A program's switch and dates (the stored row, or a view of it)."""

    @property
    def active(self) -> bool: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime | None: ...


def program_state(program: Scheduled, at: datetime) -> str:
    """``ended``, ``scheduled`` (starts later), ``paused`` or ``running`` at ``at``."""
    if program.ends_at is not None and program.ends_at <= at:
        return "ended"
    if program.starts_at > at:
        return "scheduled"
    return "running" if program.active else "paused"


def change_program_state(
    session: Session, program: LoyaltyProgram, action: str, at: datetime | None = None
) -> bool:
    """Pause, resume or end ``program``; returns whether anything changed (pausing a
    paused program changes nothing). An ended program cannot be resumed or ended again:
    a :class:`ProgramError` says so, as does an unknown action."""
    moment = at or utcnow()
    if action not in PROGRAM_ACTIONS:
        raise ProgramError(f"unknown action '{action}'; use {', '.join(PROGRAM_ACTIONS)}")
    if program_state(program, moment) == "ended":
        raise ProgramError(f"program '{program.code}' has ended; it cannot {action}")
    if action == "end":
        program.ends_at = moment
        return True
    wanted = action == "resume"
    if program.active == wanted:
        return False
    program.active = wanted
    return True


def points_config(program: LoyaltyProgram) -> PointsProgramConfig:
    """The whole config of a ``points`` program (earning rules, bonuses, household)."""
    if program.type != "points":
        raise ProgramError(f"program '{program.code}' is a '{program.type}' program, not points")
    return PointsProgramConfig.model_validate({**program.config, "type": "points"})


def household_rules(program_type: str, config: dict[str, Any]) -> HouseholdRules:
    """Who shares a household account of a program with this stored type and config: a
    points program's ``household`` section (a program of another type with
    ``shared_household`` uses the defaults)."""
    if program_type == "points":
        return PointsProgramConfig.model_validate({**config, "type": "points"}).household
    return HouseholdRules()


def default_program(session: Session) -> LoyaltyProgram | None:
    """The program an account request without ``?program=`` means: the oldest active one."""
    return session.scalars(
        select(LoyaltyProgram)
        .where(LoyaltyProgram.active.is_(True))
        .order_by(LoyaltyProgram.id)
        .limit(1)
    ).first()


def program_config(program: LoyaltyProgram) -> ProgramConfig:
    """The stored config, validated by its type's model."""
    return parse_program_config({**program.config, "type": program.type})


ConfigT = TypeVar("ConfigT", bound=BaseModel)


def typed_config(program: LoyaltyProgram, kind: str, model: type[ConfigT]) -> ConfigT:
    """The validated config of ``program``; :class:`~regulars.loyalty.errors.ProgramError`
    when it is another type."""
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
    active program of that type; :class:`~regulars.loyalty.errors.ProgramError` when there
    is none."""
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


FIXED_ONCE_STARTED = ("currency", "shared_household", "starts_at")
"""What a program keeps once it has started: its currency (the ledger's money is in it),
whether accounts are shared by a household (the accounts already exist), and its start
(what it did is measured from it). Its ``code`` and ``type`` never change."""

FIXED_CONFIG_KEYS = ("type", "code", "control_share")
"""Config keys a started program keeps: its type, the ``code`` some types carry (rewards
and tiers are keyed by it) and ``control_share`` (changing it would move customers
between the members and the control group and break the comparison)."""


@dataclass(frozen=True)
class ProgramChanges:
    """What to change on a program; ``None`` keeps the stored value. ``config`` holds
    top-level config keys that replace the stored ones (the others stay); the result is
    validated whole by the type's model. ``clear_ends_at`` removes a planned end."""

    name: str | None = None
    config: dict[str, Any] | None = None
    currency: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    clear_ends_at: bool = False
    shared_household: bool | None = None
    shortfall_policy: str | None = None


class ProgramEndedError(ProgramError):
    """The program has ended: nothing of it changes any more."""


def _started(program: LoyaltyProgram, now: datetime) -> bool:
    return program_state(program, now) != "scheduled"


def _refuse_fixed(
    program: LoyaltyProgram, changes: ProgramChanges, config: dict[str, Any], now: datetime
) -> None:
    """A started program keeps :data:`FIXED_ONCE_STARTED` and :data:`FIXED_CONFIG_KEYS`
    (``config`` is the validated new config, so "1.0" and "1" are the same value)."""
    if not _started(program, now):
        return
    for name in FIXED_ONCE_STARTED:
        wanted = getattr(changes, name)
        if wanted is not None and wanted != getattr(program, name):
            raise ProgramError(f"{name} cannot change once the program has started")
    stored = _merged_config(program, ProgramChanges())
    for key in FIXED_CONFIG_KEYS:
        if config.get(key) != stored.get(key):
            raise ProgramError(f"config.{key} cannot change once the program has started")


def update_program(
    session: Session, program: LoyaltyProgram, changes: ProgramChanges, at: datetime | None = None
) -> dict[str, tuple[Any, Any]]:
    """Apply ``changes`` to ``program`` and return what changed, ``{field: (old, new)}``
    (config keys as ``config.<key>``). The code and type never change; an ended program
    raises :class:`ProgramEndedError`; a started one keeps :data:`FIXED_ONCE_STARTED` and
    :data:`FIXED_CONFIG_KEYS` (:class:`ProgramError`); a config its type refuses raises
    :class:`pydantic.ValidationError`. What was earned stays: new rates apply to orders
    from now on, lots keep the expiry they were given."""
    now = at or utcnow()
    if program_state(program, now) == "ended":
        raise ProgramEndedError(f"program '{program.code}' has ended; it cannot change")
    config = _merged_config(program, changes)
    _refuse_fixed(program, changes, config, now)
    if changes.shortfall_policy is not None and changes.shortfall_policy not in SHORTFALL_POLICIES:
        raise ProgramError(
            f"unknown shortfall_policy '{changes.shortfall_policy}'; "
            f"use {', '.join(SHORTFALL_POLICIES)}"
        )
    shared = (
        program.shared_household if changes.shared_household is None else changes.shared_household
    )
    _check_household(config, shared)
    starts_at = changes.starts_at or program.starts_at
    ends_at = None if changes.clear_ends_at else (changes.ends_at or program.ends_at)
    if changes.ends_at is not None and changes.ends_at <= now:
        raise ProgramError("ends_at must be in the future; to end the program now, end it")
    if ends_at is not None and ends_at <= starts_at:
        raise ProgramError("ends_at must be after starts_at")
    wanted: dict[str, Any] = {
        "name": changes.name or program.name,
        "currency": program.currency if changes.currency is None else changes.currency,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "shared_household": shared,
        "shortfall_policy": changes.shortfall_policy or program.shortfall_policy,
    }
    changed = {
        f"config.{k}": (program.config.get(k), config.get(k))
        for k in _changed_config_keys(program, config)
    }
    for name, value in wanted.items():
        if getattr(program, name) != value:
            changed[name] = (getattr(program, name), value)
            setattr(program, name, value)
    if any(k.startswith("config.") for k in changed):
        program.config = config
    session.flush()
    return changed


def _changed_config_keys(program: LoyaltyProgram, config: dict[str, Any]) -> list[str]:
    """The config keys whose value differs, compared as the type's model reads them (so
    "1.0" and "1" are the same rate)."""
    old = validate_config(program.type, program.config)
    new = validate_config(program.type, config)
    return [k for k in type(new).model_fields if getattr(old, k) != getattr(new, k)]


def _merged_config(program: LoyaltyProgram, changes: ProgramChanges) -> dict[str, Any]:
    merged = {**program.config, **(changes.config or {})}
    dumped: dict[str, Any] = validate_config(program.type, merged).model_dump(mode="json")
    return dumped


def _check_household(config: dict[str, Any], shared_household: bool) -> None:
    if config.get("type") != "points" or shared_household:
        return
    if PointsProgramConfig.model_validate(config).household != HouseholdRules():
        raise ProgramError(
            "config.household only applies with shared_household: true; "
            "set it or leave the household section out"
        )
