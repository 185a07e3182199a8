r"""MBG/NBD: the modified BG/NBD model.

Source: E. P. Batislam, M. Denizel and A. Filiztekin (2007), "Empirical validation and
comparison of models for customer base analysis", *International Journal of Research in
Marketing* 24(3), 201–209.

The BG/NBD lets a customer drop out only after a repeat purchase, so a one-time buyer is
always "alive". The MBG/NBD also allows dropout right after the first purchase (time 0):
after *every* purchase the customer leaves with probability p ~ Beta(a, b); while
active, purchases follow a Poisson process with rate λ ~ Gamma(r, α).

Given (λ, p) the likelihood is ``(1−p)^(x+1) λ^x e^(−λT) + p (1−p)^x λ^x e^(−λ t_x)``;
integrating over the two mixing distributions::

    L = B(a, b+x+1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
      + B(a+1, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))

(no ``[x > 0]`` indicator, unlike the BG/NBD). Hence, with the posterior of an active
customer λ ~ Gamma(r+x, α+T), p ~ Beta(a, b+x+1)::

    P(alive | x, t_x, T) = 1 / (1 + a/(b+x) · ((α+T)/(α+t_x))^(r+x))
    E[Y(t) | x, t_x, T]  = P(alive) · (a+b+x)/(a−1)
                           · [1 − (1−z)^(a−1) ₂F₁(a+b−r, a−1; a+b+x; z)],  z = t/(α+T+t)

(the Euler-transformed form of ``((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x+1; a+b+x; z)``, see
:mod:`regulars.models.bgnbd`). For a new customer (x = t_x = T = 0) this gives
``E[X(t)] = b/(a−1) · [1 − (α/(α+t))^r ₂F₁(r, b+1; a+b; t/(α+t))]``.

P(X(t) = n): with probability p the customer leaves at time 0 (n = 0); otherwise the
process is a BG/NBD one, so with u = t/(α+t)::

    P(X(t) = n) = [n = 0] · a/(a+b)
                + B(a, b+n+1)/B(a, b) · NB(n; r, α/(α+t))
                + [n > 0] · B(a+1, b+n)/B(a, b) · I_u(n, r).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt
from scipy.special import betainc, betaln

from regulars.models.bgnbd import BetaGeoModel, log_nbd_pmf
from regulars.models.inputs import FloatArray, broadcast_float, check_counts, check_horizon

__all__ = ["ModifiedBetaGeoModel"]


class ModifiedBetaGeoModel(BetaGeoModel):
    """MBG/NBD (Batislam, Denizel & Filiztekin 2007). Parameters ``r, alpha, a, b``.

    Shares the BG/NBD's fitting, starts and conditional expectation (with its
    ``modified`` switch); P(alive) odds and P(X(t) = n) differ.
    """

    model_name: ClassVar[str] = "mbgnbd"
    modified: ClassVar[bool] = True

    def _log_odds_dead(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        r, alpha, a, b = self._values()
        return np.asarray(
            np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)),
            dtype=np.float64,
        )

    def probability_of_n_purchases(self, t: npt.ArrayLike, n: npt.ArrayLike) -> FloatArray:
        t_, n_ = broadcast_float(t, n)
        check_horizon(t_)
        check_counts(n_)
        r, alpha, a, b = self._values()
        log_beta_ab = betaln(a, b)
        first = np.exp(betaln(a, b + n_ + 1.0) - log_beta_ab + log_nbd_pmf(n_, t_, r, alpha))
        tail = betainc(np.maximum(n_, 1.0), r, t_ / (alpha + t_))
        second = np.exp(betaln(a + 1.0, b + n_) - log_beta_ab) * tail
        at_zero = np.exp(np.log(a) - np.log(a + b))
        return np.asarray(first + np.where(n_ > 0, second, at_zero), dtype=np.float64)
