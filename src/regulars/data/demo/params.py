"""The knobs of the simulated shop, with defaults chosen to look like a real one.

All rates are per year of *operational time* (calendar time stretched by the shop's
daily, weekly and yearly rhythm, see :mod:`regulars.data.demo.clock`); on average one
operational year is one calendar year.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChannelProfile:
    """How customers acquired through one channel differ from the average customer.

    ``rate_mult`` scales the purchase rate λ, ``dropout_mult`` the dropout probability p,
    ``spend_mult`` the mean order value and ``store_affinity`` is the probability that a
    repeat order placed while the store is open is placed at the till (channel 'pos').
    """

    name: str
    share: float
    rate_mult: float
    dropout_mult: float
    spend_mult: float
    store_affinity: float


POS = "pos"

DEFAULT_CHANNELS: tuple[ChannelProfile, ...] = (
    ChannelProfile("organic", 0.30, 1.00, 1.00, 1.00, 0.05),
    ChannelProfile("paid_search", 0.22, 0.95, 1.10, 1.00, 0.03),
    ChannelProfile("social", 0.14, 0.90, 1.20, 0.85, 0.03),
    # Referred customers arrive with a friend's recommendation: they stay longer.
    ChannelProfile("referral", 0.08, 1.10, 0.65, 1.05, 0.05),
    # Marketplace buyers are the marketplace's customers more than ours.
    ChannelProfile("marketplace", 0.10, 0.80, 1.35, 0.90, 0.0),
    # Walk-in customers live nearby and come back more often, with smaller baskets.
    ChannelProfile(POS, 0.16, 1.30, 0.85, 0.70, 0.85),
)


@dataclass(frozen=True)
class DemoParams:
    """Parameters of the generative model; see ``docs/demo-data.md`` for the model."""

    # Acquisition: the shop opens at the start of the window and grows.
    growth_per_year: float = 0.35
    signup_share: float = 0.10  # registered customers who never order (per buyer)

    # Occasional buyers, MBG/NBD: λ ~ Gamma(r, α) per year, p ~ Beta(a, b).
    rate_shape: float = 0.65
    rate_rate: float = 0.25
    dropout_a: float = 1.3
    dropout_b: float = 2.2

    # Regulars: renewal process with Gamma(k, kλ) gaps (k high: near-periodic).
    regular_share: float = 0.12
    regular_rate_shape: float = 4.0
    regular_rate_rate: float = 0.4
    regular_dropout_a: float = 0.6
    regular_dropout_b: float = 12.0
    regular_gap_shape_min: float = 5.0
    regular_gap_shape_max: float = 15.0

    # Spend, Gamma-Gamma: order value z ~ Gamma(p, ν), ν ~ Gamma(q, γ); E[z] = p·γ/(q−1).
    spend_p: float = 5.0
    spend_q: float = 4.0
    spend_gamma: float = 33.0

    # Baskets.
    line_count_probs: tuple[float, ...] = (0.45, 0.25, 0.15, 0.10, 0.05)
    favourite_category_share: float = 0.55
    staple_share: float = 0.6  # regulars' first line is their staple product
    discount_share: float = 0.07
    price_inflation: float = 0.03  # list prices rise 3 % a year

    # After the sale.
    cancel_share: float = 0.012
    full_refund_share: float = 0.025
    partial_refund_share: float = 0.035
    return_document_share: float = 0.004  # standalone till returns, share of all orders

    # Channels and identities.
    channels: tuple[ChannelProfile, ...] = field(default=DEFAULT_CHANNELS)
    birthday_known_share: float = 0.7
    birthday_year_unknown_share: float = 0.05
    pos_email_missing_share: float = 0.35
    web_phone_missing_share: float = 0.4

    currency: str = "EUR"
    timezone: str = "Europe/Berlin"


DEFAULT_PARAMS = DemoParams()
