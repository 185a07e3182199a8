"""Phase 1 of the demo: the compact timeline of every order.

For every order only (customer, second, kind, channel) is simulated, 10 bytes an order:
buyers are drawn in batches until their purchases reach the target (:func:`simulate_buyers`),
till returns become standalone return documents, registered customers who never bought join
the population (:func:`build_population`), and everything is sorted by time
(:func:`build_timeline`). Every random draw comes from a stream keyed by (seed, stage,
batch) (:func:`stream`), so the same arguments give the same timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from regulars.data.demo.baskets import Tastes
from regulars.data.demo.behaviour import (
    Customers,
    Purchases,
    at_the_till,
    registration_times,
    signup_channels,
    simulate_customers,
)
from regulars.data.demo.catalog import Catalog
from regulars.data.demo.clock import ShopClock
from regulars.data.demo.params import DemoParams

_CUSTOMER_BATCH = 200_000
_ORDERS_PER_CUSTOMER_GUESS = 3.0
_RETURN_WINDOW_DAYS = 28


class Stage(IntEnum):
    """Independent random streams, one per stage of the simulation."""

    CATALOG = 1
    CUSTOMERS = 2
    TILL = 3
    RETURNS = 4
    SIGNUPS = 5
    REGISTRATION = 6
    BASKETS = 7
    IDENTITIES = 8
    DEFECTS = 9


def stream(seed: int, stage: Stage, index: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, int(stage), index]))


@dataclass(frozen=True)
class Population:
    """Every customer record, sorted by creation time (customer number = index + 1)."""

    created_s: NDArray[np.int64]  # seconds since start
    channel: NDArray[np.int8]
    tastes: Tastes
    alive: NDArray[np.bool_]  # a buyer still alive at the end (False for sign-ups)

    def __len__(self) -> int:
        return len(self.created_s)


@dataclass(frozen=True)
class Timeline:
    """Every order, sorted by time; ``owner`` is the customer index in the population.

    Compact on purpose (10 bytes an order): it is the only per-order state held in full.
    """

    owner: NDArray[np.int32]
    rel_s: NDArray[np.int32]  # seconds since start (int32 spans 68 years)
    is_return: NDArray[np.bool_]
    at_till: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.owner)

    def slice(self, lo: int, hi: int) -> Timeline:
        return Timeline(
            self.owner[lo:hi], self.rel_s[lo:hi], self.is_return[lo:hi], self.at_till[lo:hi]
        )


@dataclass(frozen=True)
class PurchaseLog:
    """All purchases in simulation order; ``owner`` indexes the buyers."""

    owner: NDArray[np.int32]
    rel_s: NDArray[np.int32]
    at_till: NDArray[np.bool_]

    @classmethod
    def empty(cls, n: int) -> PurchaseLog:
        return cls(np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n, np.bool_))

    def __len__(self) -> int:
        return len(self.owner)


def _trim_to_target(
    customers: Customers, purchases: Purchases, needed: int
) -> tuple[Customers, Purchases]:
    """Keep the first customers until their purchases reach ``needed`` exactly; the last
    kept customer loses purchases beyond the target (they simply stop buying earlier, so
    they are no longer alive at the end when they lose any)."""
    counts = np.bincount(purchases.owner, minlength=len(customers))
    cumulative = np.cumsum(counts)
    if cumulative[-1] < needed:
        return customers, purchases
    last = int(np.searchsorted(cumulative, needed))
    allowed = needed - (int(cumulative[last - 1]) if last > 0 else 0)
    keep = (purchases.owner < last) | ((purchases.owner == last) & (purchases.rank < allowed))
    kept = customers.take(np.arange(last + 1))
    if allowed < counts[last]:
        kept.alive[last] = False
    return kept, purchases.filter(keep)


def _concat_customers(parts: list[Customers]) -> Customers:
    return Customers(
        arrival_s=np.concatenate([p.arrival_s for p in parts]),
        channel=np.concatenate([p.channel for p in parts]),
        regular=np.concatenate([p.regular for p in parts]),
        mean_spend=np.concatenate([p.mean_spend for p in parts]),
        favourite=np.concatenate([p.favourite for p in parts]),
        staple_u=np.concatenate([p.staple_u for p in parts]),
        alive=np.concatenate([p.alive for p in parts]),
    )


def simulate_buyers(
    n_purchases: int,
    clock: ShopClock,
    params: DemoParams,
    catalog: Catalog,
    seed: int,
    report: Callable[[int], None],
) -> tuple[Customers, PurchaseLog]:
    """Draw i.i.d. buyers in batches until their purchases add up to ``n_purchases``.

    Stopping on the purchase count (rather than fixing the number of customers) hits the
    requested size exactly at every scale; customers stay i.i.d., so the model holds.
    """
    batch = int(min(max(n_purchases / _ORDERS_PER_CUSTOMER_GUESS * 1.1, 64), _CUSTOMER_BATCH))
    customer_parts: list[Customers] = []
    log = PurchaseLog.empty(n_purchases)
    done, n_customers, index = 0, 0, 0
    while done < n_purchases:
        rng = stream(seed, Stage.CUSTOMERS, index)
        customers, purchases = simulate_customers(
            rng, batch, clock, params, catalog.category_weights
        )
        customers, purchases = _trim_to_target(customers, purchases, n_purchases - done)
        till = at_the_till(stream(seed, Stage.TILL, index), customers, purchases, clock, params)
        rows = slice(done, done + len(purchases))
        log.owner[rows] = purchases.owner + n_customers
        log.rel_s[rows] = purchases.rel_s
        log.at_till[rows] = till
        customer_parts.append(customers)
        done += len(purchases)
        n_customers += len(customers)
        index += 1
        report(done)
    return _concat_customers(customer_parts), log


def return_documents(
    rng: np.random.Generator, log: PurchaseLog, clock: ShopClock, n_wanted: int
) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """(owner, time) of till returns: a store purchase brought back 1–28 days later, at
    the same time of day, on a day the store is open and inside the window."""
    candidates = np.flatnonzero(log.at_till)
    if n_wanted <= 0 or len(candidates) == 0:
        return np.empty(0, np.int32), np.empty(0, np.int32)
    parents = rng.choice(candidates, size=min(len(candidates), 3 * n_wanted), replace=False)
    days = rng.integers(1, _RETURN_WINDOW_DAYS + 1, len(parents))
    rel_s = log.rel_s[parents].astype(np.int64) + days * 86_400
    inside = rel_s < clock.span_s
    usable = inside & clock.is_store_open(np.where(inside, rel_s, 0))
    chosen = np.flatnonzero(usable)[:n_wanted]
    return log.owner[parents[chosen]], rel_s[chosen].astype(np.int32)


def _staples(catalog: Catalog, customers: Customers) -> NDArray[np.int16]:
    favourite = customers.favourite.astype(np.int64)
    staple = catalog.by_popularity(favourite, customers.staple_u.astype(np.float64))
    return staple.astype(np.int16)  # 200 products


def _scatter(values: NDArray[np.generic], index: NDArray[np.int64], size: int) -> NDArray[Any]:
    """An array of ``size`` zeros with ``values`` placed at ``index``."""
    out = np.zeros(size, dtype=values.dtype)
    out[index] = values
    return out


def build_population(
    customers: Customers, clock: ShopClock, catalog: Catalog, params: DemoParams, seed: int
) -> tuple[Population, NDArray[np.int64]]:
    """Buyers plus registered customers who never order, numbered by creation time.

    Returns the population and each buyer's index in it.
    """
    n_buyers = len(customers)
    n_signups = round(params.signup_share * n_buyers)
    rng = stream(seed, Stage.SIGNUPS)
    signup_created = clock.draw_arrivals(rng, n_signups).astype(np.int64)
    signup_channel = signup_channels(rng, n_signups, params)
    buyer_created = registration_times(stream(seed, Stage.REGISTRATION), customers, params)
    created = np.concatenate((buyer_created, signup_created))
    by_creation = np.argsort(created, kind="stable")
    index_of = np.empty_like(by_creation)
    index_of[by_creation] = np.arange(len(by_creation))
    buyer_index = index_of[:n_buyers]
    size = len(created)
    tastes = Tastes(
        mean_spend=_scatter(customers.mean_spend, buyer_index, size),
        favourite=_scatter(customers.favourite, buyer_index, size),
        staple=_scatter(_staples(catalog, customers), buyer_index, size),
        regular=_scatter(customers.regular, buyer_index, size),
    )
    channel = np.concatenate((customers.channel, signup_channel))[by_creation]
    alive = _scatter(customers.alive, buyer_index, size)
    return Population(created[by_creation], channel, tastes, alive), buyer_index


def stable_argsort_nonnegative(keys: NDArray[np.int32]) -> NDArray[np.int64]:
    """Stable argsort of non-negative 32-bit keys: two stable passes on 16-bit halves,
    low half first (LSD radix sort; numpy radix-sorts 16-bit keys, twice as fast here)."""
    by_low = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    high = (keys[by_low] >> 16).astype(np.uint16)
    return by_low[np.argsort(high, kind="stable")]


def build_timeline(
    log: PurchaseLog,
    returns: tuple[NDArray[np.int32], NDArray[np.int32]],
    buyer_index: NDArray[np.int64],
) -> Timeline:
    """Purchases and return documents merged and sorted by time (ties keep their order)."""
    return_owner, return_s = returns
    rel_s = np.concatenate((log.rel_s, return_s))
    by_time = stable_argsort_nonnegative(rel_s)
    owner = buyer_index[np.concatenate((log.owner, return_owner))[by_time]].astype(np.int32)
    is_return = np.concatenate((np.zeros(len(log), bool), np.ones(len(return_s), bool)))
    till = np.concatenate((log.at_till, np.ones(len(return_s), bool)))
    return Timeline(owner, rel_s[by_time], is_return[by_time], till[by_time])
