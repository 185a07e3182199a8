r"""Gamma-Gamma model of spend per purchase.

Sources: P. S. Fader, B. G. S. Hardie and K. L. Lee (2005), "RFM and CLV: Using Iso-Value
Curves for Customer Base Analysis", *Journal of Marketing Research* 42(4), 415–430;
P. S. Fader and B. G. S. Hardie (2013), "The Gamma-Gamma Model of Monetary Value",
http://brucehardie.com/notes/025/ (FH13).

Assumptions: a customer's spend per purchase is Gamma(p, ν) around their mean p/ν, and
ν ~ Gamma(q, γ) across customers — independently of how often they buy. The mean ``z̄``
of ``x`` purchases is then Gamma(px, xν), and integrating ν out (FH13 eq. 3)::

    f(z̄ | p, q, γ; x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q z̄^(px−1) x^(px) / (γ + x z̄)^(px+q)

The model is fitted on customers with at least one repeat purchase (``x`` and ``z̄`` from
the summary, which excludes the first purchase). The posterior mean spend (FH13 eq. 5) is
a weighted average of the population mean ``pγ/(q−1)`` and the customer's own mean::

    E[Z | p, q, γ; x, z̄] = p (γ + x z̄) / (px + q − 1)
                        = (q−1)/(px+q−1) · pγ/(q−1) + px/(px+q−1) · z̄

It exists when ``px + q > 1``; for a customer without repeat purchases it is the
population mean, which needs ``q > 1``.

Independence check: the model assumes spend and frequency are unrelated. The fit reports
the (weighted) Pearson correlation between ``x`` and ``z̄`` among repeat buyers in
``FitResult.diagnostics["frequency_spend_correlation"]`` and warns with
:class:`~regulars.models.base.SpendCorrelationWarning` when ``|ρ|`` exceeds
``correlation_threshold`` (0.3 by default; FH13 report 0.11 on CDNOW).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, gammaln

from regulars.errors import ModelFitError
from regulars.models.base import ParametricModel, SpendCorrelationWarning
from regulars.models.estimation import fit_maximum_likelihood
from regulars.models.inputs import (
    FloatArray,
    as_float_array,
    broadcast_float,
    check_finite_nonnegative,
    check_weights,
    dedupe,
)

__all__ = ["GammaGammaModel", "weighted_correlation"]


def weighted_correlation(x: FloatArray, y: FloatArray, weights: FloatArray) -> float:
    """Weighted Pearson correlation (NaN when either variable is constant)."""
    total = float(weights.sum())
    mx = float(np.dot(weights, x)) / total
    my = float(np.dot(weights, y)) / total
    cov = float(np.dot(weights, (x - mx) * (y - my)))
    vx = float(np.dot(weights, (x - mx) ** 2))
    vy = float(np.dot(weights, (y - my) ** 2))
    if vx <= 0 or vy <= 0:
        return math.nan
    return cov / math.sqrt(vx * vy)


def _log_density(params: Sequence[float], x: FloatArray, z: FloatArray) -> FloatArray:
    p, q, gamma = params
    px = p * x
    return np.asarray(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1.0) * np.log(z)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * z),
        dtype=np.float64,
    )


def _log_density_and_grad(
    params: Sequence[float], x: FloatArray, z: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Row log-densities and their gradient with respect to ``(p, q, γ)``."""
    p, q, gamma = params
    px = p * x
    log_mix = np.log(gamma + x * z)
    psi_total = digamma(px + q)
    grad = np.column_stack(
        [
            x * (psi_total - digamma(px) + np.log(z) + np.log(x) - log_mix),
            psi_total - digamma(q) + np.log(gamma) - log_mix,
            q / gamma - (px + q) / (gamma + x * z),
        ]
    )
    return _log_density(params, x, z), grad


class GammaGammaModel(ParametricModel):
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005). Parameters ``p, q, gamma``."""

    model_name: ClassVar[str] = "gammagamma"
    param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")

    def fit(
        self,
        frequency: npt.ArrayLike,
        monetary_value: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
        *,
        correlation_threshold: float = 0.3,
    ) -> Self:
        """Fit on the repeat buyers (``frequency > 0``); other rows are ignored.

        Raises :class:`~regulars.errors.ModelFitError` on missing/negative values, on a
        repeat buyer with non-positive spend, and when fewer than four customers repeat.
        """
        x = as_float_array("frequency", frequency)
        z = as_float_array("monetary_value", monetary_value)
        if x.shape[0] == 0:
            raise ModelFitError("no customers to fit the spend model on")
        if z.shape[0] != x.shape[0]:
            raise ModelFitError(
                f"frequency and monetary_value differ in length ({x.shape[0]}, {z.shape[0]})"
            )
        check_finite_nonnegative("frequency", x)
        check_finite_nonnegative("monetary_value", z)
        w = check_weights(weights, x.shape[0])
        repeat = (x > 0) & (w > 0)
        if np.any(repeat & (z <= 0)):
            raise ModelFitError(
                f"{int(np.sum(repeat & (z <= 0)))} repeat buyer(s) have a non-positive mean "
                "spend; the Gamma-Gamma model needs positive spend"
            )
        n_repeat = float(w[repeat].sum())
        if n_repeat <= len(self.param_names):
            raise ModelFitError(
                f"{int(n_repeat)} repeat buyer(s) cannot support the spend model "
                "(it is fitted on customers with at least one repeat purchase)"
            )
        (ux, uz), uw = dedupe([x[repeat], z[repeat]], w[repeat])
        correlation = weighted_correlation(ux, uz, uw)
        n = float(uw.sum())

        def mean_log_lik(theta: FloatArray) -> float:
            values = tuple(float(v) for v in np.exp(theta))
            return float(np.dot(uw, _log_density(values, ux, uz))) / n

        def mean_log_lik_grad(theta: FloatArray) -> tuple[float, FloatArray]:
            values = np.exp(theta)
            rows, grad = _log_density_and_grad(tuple(float(v) for v in values), ux, uz)
            return float(np.dot(uw, rows)) / n, (uw @ grad) / n * values

        mean_z = float(np.dot(uw, uz)) / n
        starts = [
            np.array([1.0, 2.0, mean_z]),
            np.array([5.0, 4.0, 0.6 * mean_z]),
            np.array([0.5, 1.5, 0.5 * mean_z]),
        ]
        result = fit_maximum_likelihood(
            model=self.model_name,
            param_names=self.param_names,
            mean_log_lik=mean_log_lik,
            mean_log_lik_grad=mean_log_lik_grad,
            starts=starts,
            n_customers=round(n),
            n_unique=int(ux.shape[0]),
            diagnostics={"frequency_spend_correlation": correlation},
        )
        if math.isfinite(correlation) and abs(correlation) > correlation_threshold:
            warnings.warn(
                f"spend and frequency are correlated (Pearson ρ = {correlation:.2f} among "
                "repeat buyers): the Gamma-Gamma model assumes they are independent, so "
                "its spend predictions may be biased",
                SpendCorrelationWarning,
                stacklevel=2,
            )
        self._set_result(result)
        return self

    def log_likelihood(
        self,
        frequency: npt.ArrayLike,
        monetary_value: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
    ) -> float:
        """Log-likelihood of the repeat buyers' mean spends under the current parameters."""
        x = as_float_array("frequency", frequency)
        z = as_float_array("monetary_value", monetary_value)
        w = check_weights(weights, x.shape[0])
        repeat = x > 0
        rows = _log_density(self._values(), x[repeat], z[repeat])
        return float(np.dot(w[repeat], rows))

    @property
    def mean_spend(self) -> float:
        """Population mean spend per purchase ``pγ/(q−1)`` (inf when q ≤ 1)."""
        p, q, gamma = self._values()
        return p * gamma / (q - 1.0) if q > 1.0 else math.inf

    def conditional_expected_spend(
        self, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike
    ) -> FloatArray:
        """``E[Z | x, z̄] = p(γ + x z̄)/(px + q − 1)``; NaN where ``px + q ≤ 1``.
        ``monetary_value`` is ignored where ``frequency = 0``."""
        x, z = broadcast_float(frequency, monetary_value)
        p, q, gamma = self._values()
        z = np.where(x > 0, z, 0.0)
        denominator = p * x + q - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            spend = p * (gamma + x * z) / denominator
        return np.asarray(np.where(denominator > 0, spend, np.nan), dtype=np.float64)
