"""Who buys and when: a buy-till-you-die population with a core of regulars.

Generative model, per customer i (times in operational years, see ``clock``):

* Arrival. The first purchase happens at the arrival time aᵢ (i.i.d. from the shop's
  growing, seasonal acquisition intensity); Tᵢ = Λ(end) − Λ(aᵢ) is the time left to observe.
* Acquisition channel cᵢ, drawn from the channel mix; walk-in ('pos') customers can only
  arrive while the store is open, so P(pos | open) is raised to keep the overall mix.
* Occasional buyers (MBG/NBD): λᵢ ~ Gamma(r, α), pᵢ ~ Beta(a, b). While alive, repeat
  purchases follow a Poisson process with rate λᵢ; after *every* purchase, the first one
  included, the customer becomes inactive with probability pᵢ. The number of purchases
  before dropout is therefore Nᵢ ~ Geometric(pᵢ) on {1, 2, …}. Dropping out right after
  the first purchase is what makes one-time buyers the largest group, as in real retail.
* Regulars (a share ρ): λᵢ ~ Gamma(r_reg, α_reg), pᵢ ~ Beta(a_reg, b_reg) (small), and
  gaps between purchases ~ Gamma(kᵢ, kᵢ·λᵢ) with shape kᵢ ~ U(k_min, k_max): the same mean
  gap 1/λᵢ, but a coefficient of variation 1/√kᵢ — near-periodic buying.
* The channel scales λᵢ and pᵢ (referral customers stay longer, marketplace ones less).
* Observed purchases: 1 + the repeats that happen before both dropout and Tᵢ. A customer
  is **alive at the end** of the window when fewer repeats were observed than they would
  make before dropping out (the next one falls after the end); the latent truth that
  P(alive) estimates, kept for validation (``Customers.alive``).
* Spend and taste (used by ``baskets``): ν ~ Gamma(q, γ) gives the customer's mean order
  value p_spend/ν; a favourite category and, for regulars, a staple product.

Vectorised: each customer gets mᵢ = min(Nᵢ − 1, capᵢ) gaps in one flat array; a
segmented cumulative sum turns them into purchase times and those beyond Tᵢ are cut.
capᵢ = λᵢTᵢ + 6·√(λᵢTᵢ) + 6 exceeds the Poisson count in Tᵢ with probability < 10⁻⁸, and
gamma gaps with k > 1 are less dispersed than that, so the cap never binds in practice.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from regulars.data.demo.clock import ShopClock
from regulars.data.demo.params import POS, DemoParams

_ACCOUNT_LEAD_S = 900.0  # web customers register up to 15 minutes before paying


@dataclass(frozen=True)
class Customers:
    """Latent traits of buyers, one element per customer."""

    arrival_s: NDArray[np.float64]  # first purchase, seconds since start
    channel: NDArray[np.int8]  # index into params.channels
    regular: NDArray[np.bool_]
    mean_spend: NDArray[np.float32]  # € per order, before the basket is built
    favourite: NDArray[np.int8]  # category index
    staple_u: NDArray[np.float32]  # uniform draw that picks the staple product
    alive: NDArray[np.bool_]  # still alive at the end of the window (latent truth)

    def __len__(self) -> int:
        return len(self.arrival_s)

    def take(self, index: NDArray[np.int64]) -> Customers:
        return Customers(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


@dataclass(frozen=True)
class Purchases:
    """Purchase events; ``owner`` indexes the customer, ``rank`` 0 is the first purchase."""

    owner: NDArray[np.int64]
    rel_s: NDArray[np.int64]  # seconds since start
    rank: NDArray[np.int32]

    def __len__(self) -> int:
        return len(self.owner)

    def filter(self, keep: NDArray[np.bool_]) -> Purchases:
        return Purchases(owner=self.owner[keep], rel_s=self.rel_s[keep], rank=self.rank[keep])


def channel_probabilities(params: DemoParams, open_share: float) -> NDArray[np.float64]:
    """P(channel | store open) and P(channel | closed) as rows 0 and 1.

    With s = P(pos) and o = P(arrival while open): P(pos | open) = min(s/o, 1) keeps the
    overall pos share at s; the other channels share the rest in their own proportions.
    """
    shares = np.array([c.share for c in params.channels])
    shares = shares / shares.sum()
    is_pos = np.array([c.name == POS for c in params.channels])
    pos_share = float(shares[is_pos].sum())
    pos_if_open = min(pos_share / max(open_share, 1e-9), 1.0)
    others = np.where(is_pos, 0.0, shares) / max(1.0 - pos_share, 1e-9)
    when_open = np.where(is_pos, shares / max(pos_share, 1e-9) * pos_if_open, 0.0)
    when_open = when_open + others * (1.0 - pos_if_open)
    return np.vstack([when_open, others])


def draw_categorical(
    rng: np.random.Generator, probs: NDArray[np.float64], n: int
) -> NDArray[np.int64]:
    """n draws from a categorical distribution (probabilities need not be normalised)."""
    cum = np.cumsum(probs)
    drawn = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
    return np.asarray(np.minimum(drawn, len(cum) - 1), dtype=np.int64)


def _draw_channels(
    rng: np.random.Generator, arrival_s: NDArray[np.float64], clock: ShopClock, params: DemoParams
) -> NDArray[np.int8]:
    open_weight = np.diff(clock.acquisition_edges)[clock.store_open].sum()
    probs = channel_probabilities(params, float(open_weight))
    is_open = clock.is_store_open(arrival_s.astype(np.int64))
    cum = np.cumsum(probs, axis=1)[np.where(is_open, 0, 1)]
    picked = (rng.random(len(arrival_s))[:, None] >= cum).sum(axis=1)
    return np.asarray(np.minimum(picked, len(params.channels) - 1), dtype=np.int8)


def _draw_rates_and_dropout(
    rng: np.random.Generator,
    regular: NDArray[np.bool_],
    channel: NDArray[np.int8],
    params: DemoParams,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """λ (per operational year) and p, heterogeneous across customers."""
    n = len(regular)
    lam = np.where(
        regular,
        rng.gamma(params.regular_rate_shape, 1.0 / params.regular_rate_rate, n),
        rng.gamma(params.rate_shape, 1.0 / params.rate_rate, n),
    )
    p = np.where(
        regular,
        rng.beta(params.regular_dropout_a, params.regular_dropout_b, n),
        rng.beta(params.dropout_a, params.dropout_b, n),
    )
    rate_mult = np.array([c.rate_mult for c in params.channels])[channel]
    dropout_mult = np.array([c.dropout_mult for c in params.channels])[channel]
    # A Beta draw can underflow to 0; Geometric(p) needs p > 0.
    return lam * rate_mult, np.clip(p * dropout_mult, 1e-6, 0.98)


def segmented_cumsum(
    values: NDArray[np.float64], lengths: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Cumulative sums restarting at each segment (segments laid out back to back)."""
    total = np.concatenate(([0.0], np.cumsum(values)))
    starts = np.cumsum(lengths) - lengths
    return np.asarray(total[1:] - np.repeat(total[starts], lengths), dtype=np.float64)


def position_in_segment(lengths: NDArray[np.int64]) -> NDArray[np.int64]:
    """0, 1, … within each segment of a flat array made of back-to-back segments."""
    starts = np.cumsum(lengths) - lengths
    return np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(starts, lengths)


def _repeat_purchases(
    rng: np.random.Generator,
    horizon: NDArray[np.float64],
    lam: NDArray[np.float64],
    p: NDArray[np.float64],
    gap_shape: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]:
    """Repeat purchases within the horizon: (owner, years after arrival, repeat number ≥ 1),
    and per customer whether they are still alive at the horizon (fewer repeats observed
    than they make before dropping out)."""
    repeats_before_dropout = rng.geometric(p) - 1
    expected = lam * horizon
    cap = np.ceil(expected + 6.0 * np.sqrt(expected) + 6.0).astype(np.int64)
    lengths = np.minimum(repeats_before_dropout, cap)
    owner = np.repeat(np.arange(len(lam), dtype=np.int64), lengths)
    # Gamma(k, k·λ) gaps: mean 1/λ; k = 1 is the exponential gap of a Poisson process.
    gaps = rng.standard_gamma(gap_shape[owner]) / (gap_shape[owner] * lam[owner])
    since_arrival = segmented_cumsum(gaps, lengths)
    inside = since_arrival < horizon[owner]
    number = position_in_segment(lengths) + 1
    observed = np.bincount(owner[inside], minlength=len(lam))
    return owner[inside], since_arrival[inside], number[inside], observed < repeats_before_dropout


def _draw_tastes(
    rng: np.random.Generator,
    channel: NDArray[np.int8],
    category_weights: NDArray[np.float64],
    params: DemoParams,
) -> tuple[NDArray[np.float32], NDArray[np.int8], NDArray[np.float32]]:
    """Mean order value p/ν with ν ~ Gamma(q, γ), favourite category, staple draw."""
    n = len(channel)
    nu = rng.gamma(params.spend_q, 1.0 / params.spend_gamma, n)
    spend_mult = np.array([c.spend_mult for c in params.channels])[channel]
    mean_spend = (params.spend_p / nu * spend_mult).astype(np.float32)
    favourite = draw_categorical(rng, category_weights, n).astype(np.int8)
    return mean_spend, favourite, rng.random(n, dtype=np.float32)


def simulate_customers(
    rng: np.random.Generator,
    n: int,
    clock: ShopClock,
    params: DemoParams,
    category_weights: NDArray[np.float64],
) -> tuple[Customers, Purchases]:
    """``n`` i.i.d. buyers and all their purchases inside the window."""
    arrival_s = clock.draw_arrivals(rng, n)
    channel = _draw_channels(rng, arrival_s, clock, params)
    regular = rng.random(n) < params.regular_share
    lam, p = _draw_rates_and_dropout(rng, regular, channel, params)
    gap_shape = np.where(
        regular,
        rng.uniform(params.regular_gap_shape_min, params.regular_gap_shape_max, n),
        1.0,
    )
    tau_arrival = clock.to_operational(arrival_s)
    owner, since, number, alive = _repeat_purchases(
        rng, clock.operational_end - tau_arrival, lam, p, gap_shape
    )
    repeat_s = clock.to_calendar(tau_arrival[owner] + since)
    mean_spend, favourite, staple_u = _draw_tastes(rng, channel, category_weights, params)
    customers = Customers(arrival_s, channel, regular, mean_spend, favourite, staple_u, alive)
    purchases = Purchases(
        owner=np.concatenate((np.arange(n, dtype=np.int64), owner)),
        rel_s=np.concatenate((arrival_s, repeat_s)).astype(np.int64),
        rank=np.concatenate((np.zeros(n, np.int32), number.astype(np.int32))),
    )
    return customers, purchases


def at_the_till(
    rng: np.random.Generator,
    customers: Customers,
    purchases: Purchases,
    clock: ShopClock,
    params: DemoParams,
) -> NDArray[np.bool_]:
    """Whether each purchase is made in the store (channel 'pos') rather than online.

    A walk-in customer's first purchase is in the store by definition; later purchases
    are in the store with the channel's store affinity, but only while it is open.
    """
    pos_index = [i for i, c in enumerate(params.channels) if c.name == POS]
    affinity = np.array([c.store_affinity for c in params.channels], dtype=np.float64)
    channel = customers.channel[purchases.owner]
    first_in_store = (purchases.rank == 0) & np.isin(channel, pos_index)
    later_in_store = (purchases.rank > 0) & (rng.random(len(purchases)) < affinity[channel])
    in_store = clock.is_store_open(purchases.rel_s) & (first_in_store | later_in_store)
    return np.asarray(in_store, dtype=np.bool_)


def registration_times(
    rng: np.random.Generator, customers: Customers, params: DemoParams
) -> NDArray[np.int64]:
    """When each buyer's customer record was created: at the till for walk-ins, a few
    minutes before the first online payment otherwise."""
    is_pos = np.array([c.name == POS for c in params.channels])[customers.channel]
    lead = np.where(is_pos, 0.0, rng.uniform(0.0, _ACCOUNT_LEAD_S, len(customers)))
    return np.maximum(customers.arrival_s - lead, 0.0).astype(np.int64)


def signup_channels(rng: np.random.Generator, n: int, params: DemoParams) -> NDArray[np.int8]:
    """Channels of registered customers who never order (online newsletter sign-ups)."""
    shares = np.array([0.0 if c.name == POS else c.share for c in params.channels])
    return draw_categorical(rng, shares, n).astype(np.int8)
