"""Prize draws live: the eligible list from the store, a stored seed, winners by rank.

A ``draw`` program is one draw (its config: the period, the rule, the number of winners,
the prize). **Opted in** means an active account in the draw program (``POST
/v1/loyalty/accounts/{id}/enroll`` with ``program`` = the draw's code). **Purchases** are
the customer's orders in the period, each counting ``amount − refunded_amount`` (a fully
refunded or cancelled order counts nothing). The draw runs once, after the period ended:
eligible ids by :func:`regulars.loyalty.program_types.draws.eligible`, winners by
:func:`regulars.loyalty.program_types.draws.draw` with the seed (given, or 128 random bits),
stored with the rule, the eligible count and the SHA-256 of the eligible list. Running it
again returns the stored draw; :func:`verify` re-draws from the stored seed and today's
store and says whether the eligible list and the winners are still the same.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.errors import RegularsError
from regulars.loyalty.catalogue import lock_program, typed_config
from regulars.loyalty.program_store.tables import Draw, DrawEntrant, DrawWinner
from regulars.loyalty.program_types import DrawConfig, draws
from regulars.loyalty.program_types.history import Purchase
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyProgram
from regulars.store.audit import record
from regulars.store.tables import Order


class DrawNotDueError(RegularsError):
    """The draw's period has not ended yet."""


@dataclass(frozen=True)
class DrawView:
    program: str
    seed: str
    seed_sha256: str
    rule: dict[str, object]
    eligible_count: int
    eligible_sha256: str
    winners: list[tuple[int, str, str]]
    """(rank, customer id, ticket), rank 1 first."""
    drawn_at: datetime
    created: bool


def draw_config(program: LoyaltyProgram) -> DrawConfig:
    return typed_config(program, "draw", DrawConfig)


def eligible_ids(session: Session, program: LoyaltyProgram, config: DrawConfig) -> list[str]:
    """Who may win under ``config``, from the store now (see the module docstring)."""
    orders = session.execute(
        select(
            Order.order_id, Order.customer_id, Order.ordered_at, Order.amount, Order.refunded_amount
        ).where(Order.ordered_at >= config.starts_at, Order.ordered_at < config.ends_at)
    )
    purchases = [
        Purchase(order_id, customer, at, amount - refunded)
        for order_id, customer, at, amount, refunded in orders
    ]
    opted_in = set(
        session.scalars(
            select(LoyaltyAccount.customer_id).where(
                LoyaltyAccount.program_id == program.id,
                LoyaltyAccount.state == "active",
                LoyaltyAccount.customer_id.is_not(None),
            )
        )
    )
    buyers = {p.customer_id for p in purchases}
    entrants = [draws.Entrant(cid, cid in opted_in) for cid in buyers]
    return draws.eligible(config, entrants, purchases)


def _view(
    program: LoyaltyProgram, found: Draw, winners: list[DrawWinner], created: bool
) -> DrawView:
    return DrawView(
        program=program.code,
        seed=found.seed,
        seed_sha256=hashlib.sha256(found.seed.encode()).hexdigest(),
        rule=found.rule,
        eligible_count=found.eligible_count,
        eligible_sha256=found.eligible_sha256,
        winners=[(w.rank, w.customer_id, w.ticket) for w in sorted(winners, key=lambda w: w.rank)],
        drawn_at=found.drawn_at,
        created=created,
    )


def find_draw(session: Session, program: LoyaltyProgram) -> DrawView | None:
    found = session.scalars(select(Draw).where(Draw.program_id == program.id)).one_or_none()
    if found is None:
        return None
    winners = list(session.scalars(select(DrawWinner).where(DrawWinner.draw_id == found.id)))
    return _view(program, found, winners, created=False)


def run_draw(
    session: Session,
    program: LoyaltyProgram,
    *,
    actor: str,
    seed: str | None = None,
    now: datetime | None = None,
) -> DrawView:
    """Draw the winners once; a draw already made is returned as it was (``created`` False),
    whatever ``seed`` is given now."""
    config = draw_config(program)
    now = now or utcnow()
    lock_program(session, program)
    existing = find_draw(session, program)
    if existing is not None:
        return existing
    if now < config.ends_at:
        raise DrawNotDueError(
            f"the draw '{program.code}' can run once its period ends at "
            f"{config.ends_at.isoformat()}"
        )
    entrants = eligible_ids(session, program, config)
    result = draws.draw(config, entrants, seed or draws.new_seed())
    stored = Draw(
        program_id=program.id,
        seed=result.seed,
        rule=config.model_dump(mode="json"),
        eligible_count=result.eligible_count,
        eligible_sha256=result.eligible_sha256,
        actor=actor,
        drawn_at=now,
    )
    session.add(stored)
    session.flush()
    winners = [
        DrawWinner(
            draw_id=stored.id, rank=rank, customer_id=cid, ticket=draws.ticket(result.seed, cid)
        )
        for rank, cid in enumerate(result.winners, start=1)
    ]
    session.add_all(winners)
    session.add_all(
        DrawEntrant(draw_id=stored.id, customer_id=cid, ticket=draws.ticket(result.seed, cid))
        for cid in set(entrants)
    )
    session.flush()
    record(
        session,
        actor=actor,
        action="loyalty.draw",
        target_type="loyalty_program",
        target_id=program.code,
        details={"eligible": result.eligible_count, "winners": result.winners},
    )
    return _view(program, stored, winners, created=True)


@dataclass(frozen=True)
class Verification:
    eligible_sha256_now: str
    winners_now: list[str]
    same_eligible: bool
    same_winners: bool


def verify(session: Session, program: LoyaltyProgram) -> Verification | None:
    """Re-draw with the stored seed from the store as it is now (None: not drawn yet).

    A draw that stored its entrants is compared with them, each keeping the ticket it was
    drawn with: an erased entrant is found under their pseudonym on both sides (their
    orders and their entry are kept, re-keyed), so erasure does not break the draw. A draw
    made before entrants were stored is compared by the eligible list's SHA-256."""
    stored = find_draw(session, program)
    if stored is None:
        return None
    config = DrawConfig.model_validate(stored.rule)
    draw_id = session.scalars(select(Draw.id).where(Draw.program_id == program.id)).one()
    held = select(DrawEntrant.customer_id, DrawEntrant.ticket).where(DrawEntrant.draw_id == draw_id)
    entrants = dict(session.execute(held).all())
    now = eligible_ids(session, program, config)
    again = draws.draw(config, now, stored.seed, tickets=entrants)
    winners = [cid for _, cid, _ in stored.winners]
    if entrants:
        same_eligible = set(now) == set(entrants)
    else:
        same_eligible = again.eligible_sha256 == stored.eligible_sha256
    return Verification(
        again.eligible_sha256, again.winners, same_eligible, again.winners == winners
    )
