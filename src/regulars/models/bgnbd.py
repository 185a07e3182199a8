r"""BG/NBD: the beta-geometric / negative binomial distribution model.

Source: P. S. Fader, B. G. S. Hardie and K. L. Lee (2005), "'Counting Your Customers' the
Easy Way: An Alternative to the Pareto/NBD Model", *Marketing Science* 24(2), 275–284
(FHL below), and the note "Computing P(alive) Using the BG/NBD Model" (Fader, Hardie &
Lee 2008).

Assumptions: while active, a customer buys as a Poisson process with rate
λ ~ Gamma(r, α); after each *repeat* purchase they become inactive with probability
p ~ Beta(a, b). With ``x`` repeat purchases, the last at ``t_x``, observed until ``T``:

Likelihood (FHL eq. 6), computed as a log-sum-exp of its two terms::

    L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
      + [x > 0] · B(a+1, b+x−1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))

P(alive) (FHL 2008 note)::

    P(alive | x, t_x, T) = 1 / (1 + [x > 0] · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))

Conditional expectation of purchases in (T, T+t] (FHL eq. 10)::

    E[Y(t) | x, t_x, T] = P(alive) · (a+b+x−1)/(a−1)
                          · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; z)],
    z = t/(α+T+t).

The hypergeometric term is evaluated after Euler's transformation
``₂F₁(A, B; C; z) = (1−z)^(C−A−B) ₂F₁(C−A, C−B; C; z)``::

    (1−z)^(r+x) ₂F₁(r+x, b+x; a+b+x−1; z) = (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b+x−1; z),

whose first two parameters do not grow with ``x``: it stays finite and accurate for
``x`` in the thousands, where the original form overflows. (It was checked against direct
numerical integration of ``E_p[(1 − ((α+T)/(α+T+pt))^(r+x))/p]``, p ~ Beta(a, b+x), to
~1e-9 relative.) For a new customer (FHL eq. 9) the same formula applies with
``x = t_x = T = 0``.

P(X(t) = n) for a new customer (FHL eq. 8), with the finite sum written as the regularised
incomplete beta function ``I_u(n, r)``, u = t/(α+t) (the negative binomial tail)::

    P(X(t) = n) = B(a, b+n)/B(a, b) · NB(n; r, α/(α+t))
                + [n > 0] · B(a+1, b+n−1)/B(a, b) · I_u(n, r).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from scipy.special import betainc, betaln, digamma, expit, gammaln, hyp2f1, xlogy

from regulars.models.base import TransactionModel
from regulars.models.inputs import (
    CustomerData,
    FloatArray,
    broadcast_float,
    check_counts,
    check_horizon,
)

__all__ = [
    "BetaGeoModel",
    "alive_expectation",
    "beta_geometric_log_likelihood",
    "log_nbd_pmf",
]

_A_NEAR_ONE = 1e-7
_INTEGER_GAP = 1e-9


def log_nbd_pmf(n: FloatArray, t: FloatArray, r: float, alpha: float) -> FloatArray:
    """log P(N(t) = n) for the Poisson–gamma mixture (negative binomial):
    ``Γ(r+n)/(Γ(r) n!) (α/(α+t))^r (t/(α+t))^n``."""
    return np.asarray(
        gammaln(r + n)
        - gammaln(r)
        - gammaln(n + 1.0)
        + r * (np.log(alpha) - np.log(alpha + t))
        + xlogy(n, t / (alpha + t)),
        dtype=np.float64,
    )


def alive_expectation(
    t: FloatArray, a: float, b_post: FloatArray, shape: FloatArray, rate: FloatArray
) -> FloatArray:
    r"""Expected purchases in the next ``t`` of a customer who is active now, with
    λ ~ Gamma(shape, rate) and dropout probability p ~ Beta(a, b_post)::

        E[(1 − e^{−λpt})/p] = (a+b_post−1)/(a−1)
                               · [1 − (1−z)^(a−1) ₂F₁(a+b_post−1−shape, a−1; a+b_post−1; z)]

    with ``z = t/(rate+t)`` (FHL eq. 7 integrated over the posterior; Euler-transformed
    hypergeometric term, see the module docstring). At ``a = 1`` the expression is 0/0;
    ``a`` is moved 1e-7 away from 1 (relative error of order 1e-7).

    ``scipy.special.hyp2f1`` returns ``inf`` for some ``z > 0.9`` when ``C − A − B`` (here
    ``shape − a + 1``) is an integer, e.g. ``hyp2f1(0.3, 3, 101.3, 0.909)``; there the third
    parameter is moved by 1e-9 (the value changes by about 1e-9 relative).
    """
    if abs(a - 1.0) < _A_NEAR_ONE:
        a = 1.0 + (_A_NEAR_ONE if a >= 1.0 else -_A_NEAR_ONE)
    c = a + b_post - 1.0
    z = t / (rate + t)
    log_one_minus_z = -np.log1p(t / rate)
    excess = shape - a + 1.0  # C − A − B of the hypergeometric term
    nudge = np.where(np.abs(excess - np.round(excess)) < _INTEGER_GAP, _INTEGER_GAP, 0.0)
    hyp = hyp2f1(c - shape, a - 1.0, c + nudge, z)
    bracket = 1.0 - np.exp((a - 1.0) * log_one_minus_z) * hyp
    # An expectation of a non-negative count: at horizons near 0 the bracket is the
    # difference of two numbers within rounding of 1 and can come out at −1e-16.
    return np.asarray(np.maximum(c / (a - 1.0) * bracket, 0.0), dtype=np.float64)


def beta_geometric_log_likelihood(
    params: Sequence[float],
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    *,
    modified: bool,
    gradient: bool,
) -> tuple[FloatArray, FloatArray | None]:
    """Row log-likelihoods of the BG/NBD (``modified=False``) or MBG/NBD, and optionally
    their gradient (rows × (r, α, a, b)).

    Both likelihoods are ``c + log(e^{ℓ_T} + e^{ℓ_tx})`` with ``c = log Γ(r+x) − log Γ(r) +
    r log α`` and, with ``k = 0`` (BG/NBD) or ``1`` (MBG/NBD)::

        ℓ_T  = log B(a, b+x+k) − log B(a, b) − (r+x) log(α+T)
        ℓ_tx = log B(a+1, b+x+k−1) − log B(a, b) − (r+x) log(α+t_x)

    (the BG/NBD drops ``ℓ_tx`` when x = 0). The gradient uses ψ (digamma):
    ``∂ log B(p, q)/∂p = ψ(p) − ψ(p+q)`` and the softmax weights of the two terms.
    """
    r, alpha, a, b = params
    k = 1.0 if modified else 0.0
    log_beta_ab = betaln(a, b)
    log_alpha_t = np.log(alpha + T)
    log_alpha_tx = np.log(alpha + t_x)
    q_t = b + x + k
    q_tx = np.maximum(b + x + k - 1.0, b)  # the masked BG/NBD x = 0 rows stay finite
    term_t = betaln(a, q_t) - log_beta_ab - (r + x) * log_alpha_t
    term_tx = betaln(a + 1.0, q_tx) - log_beta_ab - (r + x) * log_alpha_tx
    if not modified:
        term_tx = np.where(x > 0, term_tx, -np.inf)
    mix = np.logaddexp(term_t, term_tx)
    rows = np.asarray(gammaln(r + x) - gammaln(r) + r * np.log(alpha) + mix, dtype=np.float64)
    if not gradient:
        return rows, None
    w_t = np.exp(term_t - mix)
    w_tx = np.exp(term_tx - mix)
    psi_total = digamma(a + b + x + k)
    grad = np.column_stack(
        [
            digamma(r + x) - digamma(r) + np.log(alpha) - w_t * log_alpha_t - w_tx * log_alpha_tx,
            r / alpha - (r + x) * (w_t / (alpha + T) + w_tx / (alpha + t_x)),
            w_t * digamma(a) + w_tx * digamma(a + 1.0) - psi_total - digamma(a) + digamma(a + b),
            w_t * digamma(q_t) + w_tx * digamma(q_tx) - psi_total - digamma(b) + digamma(a + b),
        ]
    )
    return rows, grad


class BetaGeoModel(TransactionModel):
    """BG/NBD (Fader, Hardie & Lee 2005). Parameters ``r, alpha, a, b``."""

    model_name: ClassVar[str] = "bgnbd"
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")

    analytic_gradient: ClassVar[bool] = True
    #: MBG/NBD: dropout also possible right after the first purchase (see mbgnbd.py).
    modified: ClassVar[bool] = False

    def _log_likelihood_rows(
        self, params: Sequence[float], x: FloatArray, t_x: FloatArray, T: FloatArray
    ) -> FloatArray:
        return beta_geometric_log_likelihood(
            params, x, t_x, T, modified=self.modified, gradient=False
        )[0]

    def _log_likelihood_rows_and_grad(
        self, params: Sequence[float], x: FloatArray, t_x: FloatArray, T: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        rows, grad = beta_geometric_log_likelihood(
            params, x, t_x, T, modified=self.modified, gradient=True
        )
        assert grad is not None
        return rows, grad

    def _starts(self, data: CustomerData) -> list[FloatArray]:
        exposure = max(float(np.dot(data.weights, data.T)), 1e-9)
        rate = max(float(np.dot(data.weights, data.frequency)) / exposure, 1e-9)
        return [
            np.array([1.0, 1.0 / rate, 0.8, 2.5]),
            np.array([0.3, 0.3 / rate, 0.5, 1.5]),
            np.array([2.0, 2.0 / rate, 2.0, 6.0]),
        ]

    def _log_odds_dead(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        """log of a/(b+x−1) · ((α+T)/(α+t_x))^(r+x); −inf when x = 0."""
        r, alpha, a, b = self._values()
        x_minus_1 = np.maximum(x - 1.0, 0.0)
        with np.errstate(divide="ignore"):
            odds = (
                np.log(a)
                - np.log(b + x_minus_1)
                + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
            )
        return np.where(x > 0, odds, -np.inf)

    def expected_purchases(
        self,
        t: npt.ArrayLike,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
    ) -> FloatArray:
        t_, x, t_x, t_cal = broadcast_float(t, frequency, recency, T)
        check_horizon(t_)
        r, alpha, a, b = self._values()
        alive = expit(-self._log_odds_dead(x, t_x, t_cal))
        # The posterior dropout is Beta(a, b+x) here, Beta(a, b+x+1) in the MBG/NBD.
        b_post = b + x + (1.0 if self.modified else 0.0)
        return alive * alive_expectation(t_, a, b_post, r + x, alpha + t_cal)

    def probability_of_n_purchases(self, t: npt.ArrayLike, n: npt.ArrayLike) -> FloatArray:
        t_, n_ = broadcast_float(t, n)
        check_horizon(t_)
        check_counts(n_)
        r, alpha, a, b = self._values()
        log_beta_ab = betaln(a, b)
        first = np.exp(betaln(a, b + n_) - log_beta_ab + log_nbd_pmf(n_, t_, r, alpha))
        n_minus_1 = np.maximum(n_ - 1.0, 0.0)
        tail = betainc(np.maximum(n_, 1.0), r, t_ / (alpha + t_))
        second = np.exp(betaln(a + 1.0, b + n_minus_1) - log_beta_ab) * tail
        return np.asarray(first + np.where(n_ > 0, second, 0.0), dtype=np.float64)
