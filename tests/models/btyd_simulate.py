"""Vectorised simulation of (x, t_x, T) summaries from the models' generative stories,
used to check that the fits recover known parameters."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _order_statistic_time(
    rng: np.random.Generator, x: FloatArray, n: FloatArray, window: FloatArray
) -> FloatArray:
    """Time of the x-th of n uniform events on [0, window] (0 where x = 0):
    window · Beta(x, n − x + 1)."""
    safe_x = np.maximum(x, 1.0)
    draw = rng.beta(safe_x, np.maximum(n - safe_x + 1.0, 1.0))
    return np.where(x > 0, window * draw, 0.0)


def simulate_bgnbd(
    rng: np.random.Generator,
    T: FloatArray,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    modified: bool = False,
) -> tuple[FloatArray, FloatArray]:
    """BG/NBD (or MBG/NBD with ``modified``): λ ~ Gamma(r, α), p ~ Beta(a, b); the customer
    leaves after J purchases, J ~ Geometric(p) on {1, 2, …} (BG) or {0, 1, …} (MBG, which
    also allows leaving at time 0). Repeat purchases in (0, T]: x = min(J, N(T)),
    N(T) ~ Poisson(λT); t_x is the x-th of the N(T) uniform event times."""
    lam = rng.gamma(r, 1.0 / alpha, size=T.shape)
    p = rng.beta(a, b, size=T.shape)
    purchases_until_death = rng.geometric(p).astype(np.float64)
    if modified:
        purchases_until_death -= 1.0
    n_events = rng.poisson(lam * T).astype(np.float64)
    x = np.minimum(purchases_until_death, n_events)
    return x, _order_statistic_time(rng, x, n_events, T)


def simulate_pareto(
    rng: np.random.Generator, T: FloatArray, *, r: float, alpha: float, s: float, beta: float
) -> tuple[FloatArray, FloatArray]:
    """Pareto/NBD: λ ~ Gamma(r, α), μ ~ Gamma(s, β), lifetime ~ Exp(μ); purchases are
    Poisson(λ) while alive; t_x is the last of the x uniform event times in the active
    window."""
    lam = rng.gamma(r, 1.0 / alpha, size=T.shape)
    mu = rng.gamma(s, 1.0 / beta, size=T.shape)
    active = np.minimum(rng.exponential(1.0 / mu), T)
    x = rng.poisson(lam * active).astype(np.float64)
    return x, _order_statistic_time(rng, x, x, active)


def simulate_gamma_gamma(
    rng: np.random.Generator, x: FloatArray, *, p: float, q: float, gamma: float
) -> FloatArray:
    """Mean spend of x purchases: ν ~ Gamma(q, γ), z̄ | ν ~ Gamma(px, xν)."""
    nu = rng.gamma(q, 1.0 / gamma, size=x.shape)
    return np.asarray(rng.gamma(p * x, 1.0 / (x * nu)), dtype=np.float64)
