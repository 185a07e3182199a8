"""The what-if simulation on the store's own orders (the web app's Loyalty page): the same
:func:`~regulars.loyalty.simulation.simulator.simulate_program` the CLI runs on an
export, on the orders of the operational store."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from regulars.config import Settings
from regulars.loyalty.simulation.proposal import ProposedProgram
from regulars.loyalty.simulation.result import Simulation
from regulars.loyalty.simulation.simulator import simulate_program
from regulars.shop import Shop


def simulate_on_store(
    engine: Engine,
    program: ProposedProgram,
    *,
    start: date | None = None,
    end: date | None = None,
    settings: Settings | None = None,
) -> Simulation:
    """Replay the store's orders under ``program`` over ``[start, end)`` (default: the
    whole history), in the shop's time zone, with the configured margin (if any).
    :class:`~regulars.errors.RegularsError` when there is nothing to replay."""
    settings = settings or Settings()
    shop = Shop.from_store(engine, settings=settings)
    try:
        return simulate_program(
            shop.orders,
            program,
            timezone=settings.timezone,
            start=start,
            end=end,
            margin=settings.margin,
        )
    finally:
        shop.con.disconnect()
