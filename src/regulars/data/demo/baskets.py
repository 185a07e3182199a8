"""What is in each order, what it costs and what happens after the sale.

Generative model of one purchase order o of customer i at time t:

* Lines: Lₒ ∈ {1..5} with ``line_count_probs``.
* Spend (Gamma-Gamma): a target value zₒ ~ Gamma(p, ν_i), i.e. mean p/ν_i, the customer's
  mean order value. It is split over the lines with weights wₗ ~ Gamma(1.5) (normalised).
* Each line's category is the customer's favourite with probability φ, otherwise drawn
  by category popularity. The product is the one of that category whose price is closest
  to the line's target (for a first guess of 1 or 2 units); the quantity then fills the
  target: clip(round(target / unit price), 1, 6). When that would take more than 3 units,
  the line switches to the product closest in price in any category (nobody buys six
  teas to spend €50; they buy a teapot). A regular's first line is their staple
  product with probability ``staple_share`` (replenishment buying:
  1, 2 or 3 units with probabilities 0.6, 0.3, 0.1).
* Prices inflate by π a year: a unit sold at t costs round(list price · (1+π)^−(end−t)).
  A share of lines carries a 10 % or 20 % line discount.
* line_amount = round(quantity · unit_price · (1 − discount)); the order amount is the
  exact sum of its line amounts (integer cents throughout).
* After the sale: cancelled (online orders only; refunded in full), fully refunded, or
  partially refunded (the last line's amount, or 20–60 % of a one-line order), else
  completed.

A standalone return document (till return) has one line with quantity −1 or −2 of a
popular product from the customer's favourite category and a negative amount.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from regulars.data.demo.behaviour import draw_categorical, position_in_segment
from regulars.data.demo.catalog import Catalog
from regulars.data.demo.params import DemoParams

STATUSES = ("completed", "refunded", "partially_refunded", "cancelled")
COMPLETED, REFUNDED, PARTIALLY_REFUNDED, CANCELLED = range(4)
_SPLIT_SHAPE = 1.5
_MAX_QUANTITY = 6
_MAX_UNITS_BEFORE_SWITCH = 3
_STAPLE_UNIT_PROBS = np.array([0.6, 0.3, 0.1])
_SECONDS_PER_YEAR = 365.25 * 86_400


@dataclass(frozen=True)
class Tastes:
    """Per-customer basket traits, indexed by customer number."""

    mean_spend: NDArray[np.float32]
    favourite: NDArray[np.int8]
    staple: NDArray[np.int16]  # product number
    regular: NDArray[np.bool_]


@dataclass(frozen=True)
class OrderBatch:
    """A run of orders to fill: who, when (seconds before the end), and what kind."""

    owner: NDArray[np.int64]
    seconds_to_end: NDArray[np.int64]
    is_return: NDArray[np.bool_]
    at_till: NDArray[np.bool_]


@dataclass(frozen=True)
class Baskets:
    """Lines (flat, grouped by order in order) and order totals, in cents."""

    line_order: NDArray[np.int64]  # index into the batch
    product: NDArray[np.int64]
    quantity: NDArray[np.int64]
    unit_cents: NDArray[np.int64]
    line_cents: NDArray[np.int64]
    amount_cents: NDArray[np.int64]
    refunded_cents: NDArray[np.int64]
    status: NDArray[np.int8]


def _line_counts(
    rng: np.random.Generator, batch: OrderBatch, params: DemoParams
) -> NDArray[np.int64]:
    probs = np.asarray(params.line_count_probs, dtype=np.float64)
    drawn = draw_categorical(rng, probs, len(batch.owner)) + 1
    return np.where(batch.is_return, 1, drawn)


def _line_targets_cents(
    rng: np.random.Generator,
    batch: OrderBatch,
    tastes: Tastes,
    line_order: NDArray[np.int64],
    params: DemoParams,
) -> NDArray[np.float64]:
    """Each line's share of the order's Gamma(p, ν) spend target, in cents."""
    mean = tastes.mean_spend[batch.owner].astype(np.float64)
    target = rng.gamma(params.spend_p, mean / params.spend_p) * 100.0
    weight = rng.gamma(_SPLIT_SHAPE, 1.0, len(line_order))
    per_order = np.bincount(line_order, weights=weight, minlength=len(batch.owner))
    return target[line_order] * weight / per_order[line_order]


def _pick_products(
    rng: np.random.Generator,
    batch: OrderBatch,
    tastes: Tastes,
    catalog: Catalog,
    line_order: NDArray[np.int64],
    line_number: NDArray[np.int64],
    target_cents: NDArray[np.float64],
    params: DemoParams,
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """(product, whether the line is the customer's staple)."""
    n = len(line_order)
    owner = batch.owner[line_order]
    favourite = tastes.favourite[owner].astype(np.int64)
    other = draw_categorical(rng, catalog.category_weights, n)
    category = np.where(rng.random(n) < params.favourite_category_share, favourite, other)
    units_guess = np.where(rng.random(n) < 0.15, 2.0, 1.0)
    product = catalog.nearest_price(category, target_cents / units_guess)
    # Too cheap for the target: the customer picks a dearer product elsewhere.
    too_cheap = target_cents / catalog.price_cents[product] > _MAX_UNITS_BEFORE_SWITCH + 0.5
    product = np.where(too_cheap, catalog.nearest_price_any(target_cents), product)
    staple = (line_number == 0) & tastes.regular[owner] & (rng.random(n) < params.staple_share)
    product = np.where(staple, tastes.staple[owner], product)
    # Returned goods: a popular product of the customer's favourite category.
    returned = catalog.by_popularity(favourite, rng.random(n))
    is_return = batch.is_return[line_order]
    return np.where(is_return, returned, product), staple & ~is_return


def _unit_prices(
    catalog: Catalog,
    product: NDArray[np.int64],
    seconds_to_end: NDArray[np.int64],
    params: DemoParams,
) -> NDArray[np.int64]:
    years_before = seconds_to_end / _SECONDS_PER_YEAR
    factor = (1.0 + params.price_inflation) ** -years_before
    return np.maximum(np.rint(catalog.price_cents[product] * factor), 1).astype(np.int64)


def _quantities(
    rng: np.random.Generator,
    target_cents: NDArray[np.float64],
    unit_cents: NDArray[np.int64],
    staple: NDArray[np.bool_],
    is_return: NDArray[np.bool_],
) -> NDArray[np.int64]:
    bought = np.clip(np.rint(target_cents / unit_cents), 1, _MAX_QUANTITY).astype(np.int64)
    # Replenishment is one to three units of the staple, whatever the budget.
    usual = draw_categorical(rng, _STAPLE_UNIT_PROBS, len(bought)) + 1
    bought = np.where(staple, usual, bought)
    returned = np.where(rng.random(len(bought)) < 0.1, -2, -1)
    return np.where(is_return, returned, bought)


def _line_amounts(
    rng: np.random.Generator,
    quantity: NDArray[np.int64],
    unit_cents: NDArray[np.int64],
    is_return: NDArray[np.bool_],
    params: DemoParams,
) -> NDArray[np.int64]:
    n = len(quantity)
    discounted = (rng.random(n) < params.discount_share) & ~is_return
    rate = np.where(rng.random(n) < 0.7, 0.10, 0.20)
    gross = quantity * unit_cents
    net = np.rint(gross * (1.0 - rate)).astype(np.int64)
    return np.where(discounted, net, gross)


def _after_sale(
    rng: np.random.Generator,
    amount: NDArray[np.int64],
    last_line: NDArray[np.int64],
    n_lines: NDArray[np.int64],
    is_return: NDArray[np.bool_],
    at_till: NDArray[np.bool_],
    params: DemoParams,
) -> tuple[NDArray[np.int8], NDArray[np.int64]]:
    """(status, refunded cents): cancellations and refunds, never on return documents."""
    u = rng.random(len(amount))
    # A till sale cannot be cancelled afterwards: it comes back as a return document.
    cancelled = (u < params.cancel_share) & ~at_till
    full = ~cancelled & (u < params.cancel_share + params.full_refund_share)
    edge = params.cancel_share + params.full_refund_share + params.partial_refund_share
    partial = ~cancelled & ~full & (u < edge) & (amount >= 2)
    cancelled, full, partial = cancelled & ~is_return, full & ~is_return, partial & ~is_return
    share = np.rint(amount * rng.uniform(0.2, 0.6, len(amount))).astype(np.int64)
    part = np.clip(np.where(n_lines >= 2, last_line, share), 1, np.maximum(amount - 1, 1))
    status = np.select(
        [cancelled, full, partial], [CANCELLED, REFUNDED, PARTIALLY_REFUNDED], COMPLETED
    ).astype(np.int8)
    refunded = np.select([cancelled | full, partial], [amount, part], 0).astype(np.int64)
    return status, refunded


def fill_orders(
    rng: np.random.Generator,
    batch: OrderBatch,
    tastes: Tastes,
    catalog: Catalog,
    params: DemoParams,
) -> Baskets:
    """Lines, amounts and after-sale outcomes of a batch of orders."""
    n_lines = _line_counts(rng, batch, params)
    line_order = np.repeat(np.arange(len(n_lines), dtype=np.int64), n_lines)
    line_number = position_in_segment(n_lines)
    target = _line_targets_cents(rng, batch, tastes, line_order, params)
    product, staple = _pick_products(
        rng, batch, tastes, catalog, line_order, line_number, target, params
    )
    unit = _unit_prices(catalog, product, batch.seconds_to_end[line_order], params)
    is_return = batch.is_return[line_order]
    quantity = _quantities(rng, target, unit, staple, is_return)
    line = _line_amounts(rng, quantity, unit, is_return, params)
    starts = np.cumsum(n_lines) - n_lines
    amount = np.add.reduceat(line, starts)
    status, refunded = _after_sale(
        rng, amount, line[starts + n_lines - 1], n_lines, batch.is_return, batch.at_till, params
    )
    return Baskets(line_order, product, quantity, unit, line, amount, refunded, status)
