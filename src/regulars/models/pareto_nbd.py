r"""Pareto/NBD.

Sources: D. C. Schmittlein, D. G. Morrison and R. Colombo (1987), "Counting Your
Customers: Who Are They and What Will They Do Next?", *Management Science* 33(1), 1–24
(SMC); P. S. Fader and B. G. S. Hardie (2005), "A Note on Deriving the Pareto/NBD Model
and Related Expressions", http://brucehardie.com/notes/009/ (FH05: §3 likelihood, §5
P(alive), §6 conditional expectation); P. S. Fader and B. G. S. Hardie (2006), "Deriving
an Expression for P(X(t) = x) Under the Pareto/NBD Model", http://brucehardie.com/notes/012/.

Assumptions: while alive a customer buys as a Poisson process with rate
λ ~ Gamma(r, α); their lifetime is exponential with rate μ ~ Gamma(s, β), independent of λ.

Likelihood
----------
Integrating the unobserved time of death τ over (t_x, T] (FH05 §3)::

    L = Γ(r+x) α^r β^s / Γ(r) · [ 1/((α+T)^(r+x) (β+T)^s) + s · I ],
    I = ∫_{t_x}^{T} (α+τ)^−(r+x) (β+τ)^−(s+1) dτ.

FH05 writes ``s·I = s/(r+s+x) · A₀`` with A₀ a difference of two Gauss hypergeometric
terms ``₂F₁(r+s+x, s+1 or r+x; r+s+x+1; ·)`` (one form for α ≥ β, another for α < β).
For large ``x`` or ``|α−β|`` those ₂F₁ values are huge, cancel in the difference, and
``scipy.special.hyp2f1`` returns NaN or inaccurate values there. This module evaluates
``I`` directly instead, which is positive and free of cancellation ("the integral form"):

* let ``B = max(α, β)`` with its exponent ``e_B``, ``S = min(α, β)`` with ``e_S`` (the
  exponents are r+x for α and s+1 for β), ``m = r+s+x``, ``A = B + t_x``,
  ``δ = (B−S)/A ∈ [0, 1)``; the substitution ``w = m·log((B+τ)/A)`` gives exactly::

      I = A^(−m)/m · ∫_0^W e^(−w) (1 − δ e^(−w/m))^(−e_S) dw,   W = m·log((B+T)/A);

* ``log`` of the integrand is convex, has slope ≤ −1 everywhere and slope
  ``−ρ = −(1 + (e_S/m)·δ/(1−δ))`` at 0, so the integral beyond ``38 + log ρ`` is below
  e^−38 of the total and is dropped;
* the rest is integrated by 64-point Gauss–Legendre in ``v = log(1 + ρw)``
  (:func:`regulars.models._numerics.log_integral`), all in log space. Checked against
  adaptive quadrature and, where it is reliable, the FH05 hypergeometric form (tests):
  ~1e-9 relative or better, for ``x`` up to 20,000.

Predictions
-----------
P(alive) (FH05 §5)::

    P(alive | x, t_x, T) = 1 / (1 + s · I · (α+T)^(r+x) (β+T)^s)

Conditional expectation (SMC eq. 22; FH05 §6)::

    E[Y(t) | x, t_x, T] = (r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)] · P(alive)

(the bracket divided by s−1 tends to ``log((β+T+t)/(β+T))`` as s → 1). For a new
customer (x = t_x = T = 0, P(alive) = 1): ``E[X(t)] = rβ/(α(s−1)) [1 − (β/(β+t))^(s−1)]``.

P(X(t) = n) for a new customer, from the model assumptions (died after t, or died at
τ ≤ t having made n purchases in (0, τ]) — the same quantity as FH 2006, written as an
integral::

    P(X(t) = n) = (β/(β+t))^s NB(n; r, α/(α+t))
                + Γ(r+n)/(Γ(r) n!) · α^r s β^s ∫_0^t τ^n (α+τ)^−(r+n) (β+τ)^−(s+1) dτ,

and with ``u = τ/(α+τ)``, ``u = u_t e^(−w/(n+1))``, ``u_t = t/(α+t)`` the integral is
``α^(1−r) u_t^(n+1)/(n+1) ∫_0^∞ e^(−w) (1 − u)^(r+s−1) (β + (α−β)u)^(−(s+1)) dw``,
evaluated like the likelihood integral.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, expit, gammaln

from regulars.models._numerics import log_integral, log_integral_nodes, tail_cut
from regulars.models.base import TransactionModel
from regulars.models.bgnbd import log_nbd_pmf
from regulars.models.inputs import (
    CustomerData,
    FloatArray,
    broadcast_float,
    check_counts,
    check_horizon,
)

__all__ = ["ParetoNBDModel", "death_integral", "log_death_integral"]

_TAIL = 38.0


def death_integral(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    *,
    gradient: bool = False,
) -> tuple[FloatArray, FloatArray | None]:
    """``log I`` with ``I = ∫_{t_x}^{T} (α+τ)^−(r+x) (β+τ)^−(s+1) dτ`` (−inf where
    ``t_x = T``) for 1-D arrays, and with ``gradient`` its derivatives with respect to
    ``(r, α, s, β)`` (rows × 4): ``∂ log I/∂θ = E[∂ log g/∂θ]`` under the density ``g/I``
    on ``(t_x, T)``, i.e. the quadrature-weighted means of ``−log(α+τ)``,
    ``−(r+x)/(α+τ)``, ``−log(β+τ)`` and ``−(s+1)/(β+τ)``."""
    m = r + s + x
    alpha_is_big = alpha >= beta
    if alpha_is_big:
        big, small = alpha, beta
        e_small = np.full_like(x, s + 1.0)
    else:
        big, small = beta, alpha
        e_small = r + x
    big_tx = big + t_x
    small_tx = small + t_x
    delta = (big - small) / big_tx
    upper = m * np.log1p((T - t_x) / big_tx)
    rho = 1.0 + (e_small / m) * (big - small) / small_tx
    upper = np.minimum(upper, _TAIL + np.log(rho))

    m_col = m[:, None]
    e_col = e_small[:, None]
    one_minus_delta = (small_tx / big_tx)[:, None]
    delta_col = delta[:, None]

    def log_f(w: FloatArray) -> FloatArray:
        # 1 − δ e^{−w/m} = (1 − δ) + δ (1 − e^{−w/m}), free of cancellation
        inner = one_minus_delta + delta_col * -np.expm1(-w / m_col)
        return np.asarray(-w - e_col * np.log(inner), dtype=np.float64)

    quad = log_integral_nodes(log_f, upper, rho)
    log_i = -m * np.log(big_tx) - np.log(m) + quad.log_value
    if not gradient:
        return np.asarray(log_i, dtype=np.float64), None
    # τ at the nodes: big + τ = A e^{w/m}, small + τ = (small + t_x) + A (e^{w/m} − 1)
    log_big_tau = np.log(big_tx)[:, None] + quad.nodes / m_col
    log_small_tau = np.log(small_tx[:, None] + big_tx[:, None] * np.expm1(quad.nodes / m_col))
    log_alpha_tau, log_beta_tau = (
        (log_big_tau, log_small_tau) if alpha_is_big else (log_small_tau, log_big_tau)
    )
    wts = quad.weights
    grad = np.column_stack(
        [
            -(wts * log_alpha_tau).sum(axis=1),
            -(r + x) * (wts * np.exp(-log_alpha_tau)).sum(axis=1),
            -(wts * log_beta_tau).sum(axis=1),
            -(s + 1.0) * (wts * np.exp(-log_beta_tau)).sum(axis=1),
        ]
    )
    return np.asarray(log_i, dtype=np.float64), grad


def log_death_integral(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
) -> FloatArray:
    """``log I``, ``I = ∫_{t_x}^{T} (α+τ)^−(r+x) (β+τ)^−(s+1) dτ`` (broadcasts)."""
    x_, t_x_, T_ = broadcast_float(x, t_x, T)
    log_i, _ = death_integral(r, alpha, s, beta, x_.ravel(), t_x_.ravel(), T_.ravel())
    return np.asarray(log_i.reshape(x_.shape), dtype=np.float64)


class ParetoNBDModel(TransactionModel):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987). Parameters ``r, alpha, s, beta``."""

    model_name: ClassVar[str] = "pareto"
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")

    analytic_gradient: ClassVar[bool] = True

    def _log_likelihood_rows(
        self, params: Sequence[float], x: FloatArray, t_x: FloatArray, T: FloatArray
    ) -> FloatArray:
        return self._log_likelihood_rows_and_grad(params, x, t_x, T, gradient=False)[0]

    def _log_likelihood_rows_and_grad(
        self,
        params: Sequence[float],
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,
        gradient: bool = True,
    ) -> tuple[FloatArray, FloatArray]:
        r, alpha, s, beta = params
        log_alpha_t = np.log(alpha + T)
        log_beta_t = np.log(beta + T)
        alive_term = -(r + x) * log_alpha_t - s * log_beta_t
        log_i, grad_i = death_integral(r, alpha, s, beta, x, t_x, T, gradient=gradient)
        death_term = np.log(s) + log_i
        mix = np.logaddexp(alive_term, death_term)
        rows = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + mix
        if grad_i is None:
            return np.asarray(rows, dtype=np.float64), np.empty((x.shape[0], 0))
        # weights of the two terms of the likelihood (softmax of the log terms)
        w_alive = np.exp(alive_term - mix)
        w_death = np.exp(death_term - mix)
        grad = np.column_stack(
            [
                digamma(r + x)
                - digamma(r)
                + np.log(alpha)
                - w_alive * log_alpha_t
                + w_death * grad_i[:, 0],
                r / alpha - w_alive * (r + x) / (alpha + T) + w_death * grad_i[:, 1],
                np.log(beta) - w_alive * log_beta_t + w_death * (1.0 / s + grad_i[:, 2]),
                s / beta - w_alive * s / (beta + T) + w_death * grad_i[:, 3],
            ]
        )
        return np.asarray(rows, dtype=np.float64), grad

    def _starts(self, data: CustomerData) -> list[FloatArray]:
        exposure = max(float(np.dot(data.weights, data.T)), 1e-9)
        rate = max(float(np.dot(data.weights, data.frequency)) / exposure, 1e-9)
        mean_t = max(exposure / data.n_customers, 1e-6)
        return [
            np.array([0.9, 0.9 / rate, 0.9, mean_t]),
            np.array([0.3, 0.3 / rate, 0.4, 0.3 * mean_t]),
            np.array([2.0, 2.0 / rate, 2.0, 3.0 * mean_t]),
        ]

    def _log_odds_dead(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        r, alpha, s, beta = self._values()
        log_i = log_death_integral(r, alpha, s, beta, x, t_x, T)
        return np.asarray(
            np.log(s) + log_i + (r + x) * np.log(alpha + T) + s * np.log(beta + T),
            dtype=np.float64,
        )

    def expected_purchases(
        self,
        t: npt.ArrayLike,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
    ) -> FloatArray:
        t_, x, t_x, t_cal = broadcast_float(t, frequency, recency, T)
        check_horizon(t_)
        r, alpha, s, beta = self._values()
        alive = expit(-self._log_odds_dead(x, t_x, t_cal))
        log_growth = np.log1p(t_ / (beta + t_cal))
        if abs(s - 1.0) < 1e-9:
            horizon = log_growth
        else:
            horizon = -np.expm1(-(s - 1.0) * log_growth) / (s - 1.0)
        return np.asarray(
            (r + x) * (beta + t_cal) / (alpha + t_cal) * horizon * alive, dtype=np.float64
        )

    def probability_of_n_purchases(self, t: npt.ArrayLike, n: npt.ArrayLike) -> FloatArray:
        t_, n_ = broadcast_float(t, n)
        check_horizon(t_)
        check_counts(n_)
        shape = t_.shape
        t_, n_ = t_.ravel(), n_.ravel()
        r, alpha, s, beta = self._values()
        survived = np.exp(s * (np.log(beta) - np.log(beta + t_)) + log_nbd_pmf(n_, t_, r, alpha))

        k = n_ + 1.0
        with np.errstate(divide="ignore"):
            log_u_t = np.log(t_) - np.log(alpha + t_)
        u_t = np.exp(log_u_t)
        # log R(w) = (r+s−1) log(1−u) − (s+1) log(β + (α−β)u), u = u_t e^{−w/k}
        log_one_minus_u0 = np.log(alpha) - np.log(alpha + t_)
        log_mix0 = np.log(beta + (alpha - beta) * u_t)
        spread = np.abs((r + s - 1.0) * log_one_minus_u0) + (s + 1.0) * np.abs(
            log_mix0 - np.log(beta)
        )
        slope0 = (
            -1.0
            + (r + s - 1.0) * (u_t / k) / (1.0 - u_t)
            + (s + 1.0) * ((alpha - beta) * u_t / k) / (beta + (alpha - beta) * u_t)
        )
        rate = np.maximum(1.0, -slope0)
        upper = tail_cut(np.full_like(t_, np.inf), spread)
        t_col, k_col, u_col = t_[:, None], k[:, None], u_t[:, None]

        def log_f(w: FloatArray) -> FloatArray:
            shrink = -np.expm1(-w / k_col)  # 1 − e^{−w/k}
            u = u_col * np.exp(-w / k_col)
            # 1 − u = (α + t·(1 − e^{−w/k})) / (α + t)
            log_one_minus_u = np.log(alpha + t_col * shrink) - np.log(alpha + t_col)
            return np.asarray(
                -w
                + (r + s - 1.0) * log_one_minus_u
                - (s + 1.0) * np.log(beta + (alpha - beta) * u),
                dtype=np.float64,
            )

        log_k = log_integral(log_f, upper, rate)
        log_died = (
            gammaln(r + n_)
            - gammaln(r)
            - gammaln(n_ + 1.0)
            + np.log(alpha)
            + np.log(s)
            + s * np.log(beta)
            + k * log_u_t
            - np.log(k)
            + log_k
        )
        died = np.where(t_ > 0, np.exp(log_died), 0.0)
        return np.asarray((survived + died).reshape(shape), dtype=np.float64)
