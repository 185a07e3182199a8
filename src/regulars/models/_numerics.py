"""Small numerical building blocks shared by the models.

* :func:`log_integral` — ``log ∫_0^W exp(g(w)) dw`` for log-convex, decaying integrands,
  by Gauss–Legendre quadrature after the substitution ``v = log(1 + ρw)``. The Pareto/NBD
  likelihood and its ``P(X(t) = n)`` need such integrals where closed forms go through
  the Gauss hypergeometric function ``₂F₁`` with large parameters, a region where
  ``scipy.special.hyp2f1`` returns NaN or loses all accuracy (checked: for example
  ``hyp2f1(1, 300.5, 302.3, 0.999)`` is NaN). The integrals themselves are smooth,
  positive and cheap to evaluate in log space, so quadrature is both stable and accurate to
  ~1e-9 relative (tested against adaptive quadrature in ``tests/models``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Gauss–Legendre rule on [0, 1]. 64 nodes: the worst error seen over a wide random grid of
#: Pareto/NBD parameters (x up to 20,000, α/β from 1e-4 to 1e4) is ~1e-9 in the log.
_GL_NODES: Final[int] = 64
_gl_x, _gl_w = np.polynomial.legendre.leggauss(_GL_NODES)
GL_X: Final[FloatArray] = (_gl_x + 1.0) / 2.0
GL_W: Final[FloatArray] = _gl_w / 2.0

#: Truncation of the w-range, see :func:`tail_cut`.
_TAIL: Final[float] = 38.0


@dataclass(frozen=True)
class QuadratureResult:
    """``log_value[i] = log ∫ f_i``; ``nodes`` (rows × 64) are the abscissae in ``w`` and
    ``weights`` (rows × 64, each row summing to 1) the share of the integral at each node,
    so that ``Σ_k weights[i, k]·h(nodes[i, k]) ≈ ∫ h f_i / ∫ f_i`` for smooth ``h`` (used
    for derivatives of ``log ∫ f`` with respect to parameters inside ``f``)."""

    log_value: FloatArray
    nodes: FloatArray
    weights: FloatArray


def log_integral_nodes(
    log_f: Callable[[FloatArray], FloatArray],
    upper: FloatArray,
    rate: FloatArray,
) -> QuadratureResult:
    """``log ∫_0^upper exp(log_f(w)) dw`` for each row, by Gauss–Legendre quadrature in
    ``v = log(1 + rate·w)``.

    Meant for integrands ``f(w) = e^{−w}·R(w)`` with ``R`` smooth, positive and monotone
    between known bounds, that start with a decay rate ``rate`` (≥ 1) at ``w = 0``: the
    substitution turns both the fast initial decay (scale ``1/rate``) and the slow
    ``e^{−w}`` tail into smooth functions of ``v`` on ``[0, log(1 + rate·upper)]``. The
    caller truncates ``upper`` (see :func:`tail_cut`). ``log_f`` receives a 2-D array of
    shape ``(rows, nodes)`` and broadcasts its per-row parameters as ``[:, None]``.
    Rows with ``upper == 0`` give ``-inf`` (and zero weights).
    """
    upper = np.asarray(upper, dtype=np.float64)
    rate = np.maximum(np.asarray(rate, dtype=np.float64), 1.0)
    v_max = np.log1p(rate * upper)
    v = v_max[:, None] * GL_X[None, :]
    w = np.expm1(v) / rate[:, None]
    # dw = e^v / rate dv
    log_terms = log_f(w) + v - np.log(rate)[:, None]
    peak = np.max(log_terms, axis=1)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    scaled = np.exp(log_terms - peak[:, None]) * GL_W[None, :]
    total = scaled.sum(axis=1)
    positive = (upper > 0.0) & (total > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.log(v_max) + peak + np.log(total)
        weights = scaled / total[:, None]
    return QuadratureResult(
        log_value=np.where(positive, result, -np.inf),
        nodes=w,
        weights=np.where(positive[:, None], weights, 0.0),
    )


def log_integral(
    log_f: Callable[[FloatArray], FloatArray],
    upper: FloatArray,
    rate: FloatArray,
) -> FloatArray:
    """``log ∫_0^upper exp(log_f(w)) dw``; see :func:`log_integral_nodes`."""
    return log_integral_nodes(log_f, upper, rate).log_value


def tail_cut(upper: FloatArray, log_spread: FloatArray) -> FloatArray:
    """Where to stop integrating ``f(w) = e^{−w}·R(w)`` with ``R_min ≤ R ≤ R_max``.

    ``∫_W^∞ f ≤ R_max·e^{−W}`` while ``∫_0^∞ f ≥ (1 − e^{−1})·R_min``, so stopping at
    ``W = 38 + log(R_max/R_min)`` (``log_spread``) neglects less than ``1e-16`` of the
    integral.
    """
    return np.minimum(upper, _TAIL + np.maximum(log_spread, 0.0))
