"""The model bases: a model with named positive parameters, fitted by maximum likelihood
(:mod:`regulars.models.estimation`) on checked, de-duplicated inputs
(:mod:`regulars.models.inputs`) or given; and the buy-till-you-die transaction model on
``(x, t_x, T)`` summaries. Time is measured in a unit: days, weeks or months.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Final, Literal, Self

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from regulars.models.estimation import FitResult, fit_maximum_likelihood
from regulars.models.inputs import (
    CustomerData,
    FloatArray,
    as_float_array,
    broadcast_float,
    check_horizon,
    check_weights,
    prepare_customer_data,
)

TimeUnit = Literal["day", "week", "month"]

#: Length of one model time unit in days. A month is 365.25/12 = 30.4375 days.
DAYS_PER_UNIT: Final[dict[str, float]] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12.0}


def days_per_unit(unit: str) -> float:
    """Days in one time unit (``day``, ``week`` or ``month``)."""
    try:
        return DAYS_PER_UNIT[unit]
    except KeyError:
        raise ValueError(f"unit must be one of {sorted(DAYS_PER_UNIT)}, got {unit!r}") from None


class NotFittedError(RuntimeError):
    """A prediction was asked of a model that has neither been fitted nor given params."""


class SpendCorrelationWarning(UserWarning):
    """Spend and frequency are correlated: the Gamma-Gamma independence assumption fails."""


class ParametricModel(ABC):
    """A model with named positive parameters, fitted or given."""

    model_name: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]

    def __init__(self) -> None:
        self._params: dict[str, float] | None = None
        self._result: FitResult | None = None

    @classmethod
    def from_params(cls, **params: float) -> Self:
        """A model with the given parameters (for example published ones), unfitted."""
        missing = set(cls.param_names) - set(params)
        extra = set(params) - set(cls.param_names)
        if missing or extra:
            raise ValueError(
                f"{cls.__name__} needs exactly {cls.param_names}; "
                f"missing {sorted(missing)}, unknown {sorted(extra)}"
            )
        values = {n: float(params[n]) for n in cls.param_names}
        if not all(math.isfinite(v) and v > 0 for v in values.values()):
            raise ValueError(f"parameters must be positive and finite: {values}")
        model = cls()
        model._params = values
        return model

    @property
    def params(self) -> dict[str, float]:
        if self._params is None:
            raise NotFittedError(f"{type(self).__name__} has no parameters: call fit() first")
        return dict(self._params)

    @property
    def result(self) -> FitResult:
        if self._result is None:
            raise NotFittedError(f"{type(self).__name__} has not been fitted")
        return self._result

    @property
    def is_fitted(self) -> bool:
        return self._result is not None

    def _values(self) -> tuple[float, ...]:
        p = self.params
        return tuple(p[n] for n in self.param_names)

    def _set_result(self, result: FitResult) -> None:
        self._result = result
        self._params = dict(result.params)

    def __repr__(self) -> str:
        if self._params is None:
            return f"<{type(self).__name__} (unfitted)>"
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self._params.items())
        return f"<{type(self).__name__} {shown}>"


class TransactionModel(ParametricModel):
    """A buy-till-you-die model of repeat purchases on ``(x, t_x, T)`` summaries.

    ``x`` (frequency) is the number of repeat purchases, ``t_x`` (recency) the time of the
    last one and ``T`` the age of the customer, all measured from the first purchase in
    the summary's time unit.
    """

    @abstractmethod
    def _log_likelihood_rows(
        self, params: Sequence[float], x: FloatArray, t_x: FloatArray, T: FloatArray
    ) -> FloatArray:
        """Individual log-likelihood ``log L(params | x, t_x, T)`` of each row."""

    def _log_likelihood_rows_and_grad(
        self, params: Sequence[float], x: FloatArray, t_x: FloatArray, T: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Row log-likelihoods and their gradient (rows × params, natural scale). Only
        models with ``analytic_gradient = True`` implement it."""
        raise NotImplementedError

    analytic_gradient: ClassVar[bool] = False

    @abstractmethod
    def _starts(self, data: CustomerData) -> list[FloatArray]:
        """Starting points of the optimiser (natural parameter scale)."""

    def fit(
        self,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
    ) -> Self:
        """Maximum-likelihood fit. See :func:`prepare_customer_data` for the checks."""
        data = prepare_customer_data(frequency, recency, T, weights, n_params=len(self.param_names))
        n = float(data.n_customers)

        def mean_log_lik(theta: FloatArray) -> float:
            values = tuple(float(v) for v in np.exp(theta))
            rows = self._log_likelihood_rows(values, data.frequency, data.recency, data.T)
            return float(np.dot(data.weights, rows)) / n

        def mean_log_lik_grad(theta: FloatArray) -> tuple[float, FloatArray]:
            values = np.exp(theta)
            rows, grads = self._log_likelihood_rows_and_grad(
                tuple(float(v) for v in values), data.frequency, data.recency, data.T
            )
            # chain rule to log-parameters: d/dθ = p · d/dp
            return float(np.dot(data.weights, rows)) / n, (data.weights @ grads) / n * values

        self._set_result(
            fit_maximum_likelihood(
                model=self.model_name,
                param_names=self.param_names,
                mean_log_lik=mean_log_lik,
                mean_log_lik_grad=mean_log_lik_grad if self.analytic_gradient else None,
                starts=self._starts(data),
                n_customers=data.n_customers,
                n_unique=data.n_unique,
            )
        )
        return self

    def log_likelihood(
        self,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
    ) -> float:
        """Total log-likelihood of a summary under the current parameters."""
        x = as_float_array("frequency", frequency)
        t_x = as_float_array("recency", recency)
        t_cal = as_float_array("T", T)
        w = check_weights(weights, x.shape[0])
        return float(np.dot(w, self._log_likelihood_rows(self._values(), x, t_x, t_cal)))

    @abstractmethod
    def expected_purchases(
        self,
        t: npt.ArrayLike,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
    ) -> FloatArray:
        """``E[Y(t) | x, t_x, T]``: expected purchases in ``(T, T + t]`` (broadcasts)."""

    def probability_no_purchases(
        self,
        t: npt.ArrayLike,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
    ) -> FloatArray:
        """``P(Y(t) = 0 | x, t_x, T)``: no purchase in ``(T, T + t]``.

        The likelihood ``L(x, t_x, T)`` is the probability of the history "x repeat
        purchases, the last at t_x, none after it until T"; the history extended by t
        quiet units is ``L(x, t_x, T + t)``. So, for every model here,
        ``P(Y(t) = 0 | x, t_x, T) = L(x, t_x, T + t) / L(x, t_x, T)`` — for the BG/NBD
        family it equals ``1 − P(alive) + P(alive) · ((α+T)/(α+T+t))^(r+x)``. It is where
        P(alive) meets what customers do next, which is how the report compares models.
        """
        t_, x, t_x, t_cal = broadcast_float(t, frequency, recency, T)
        check_horizon(t_)
        values = self._values()
        later = self._log_likelihood_rows(values, x, t_x, t_cal + t_)
        now = self._log_likelihood_rows(values, x, t_x, t_cal)
        return np.asarray(np.exp(np.minimum(later - now, 0.0)), dtype=np.float64)

    @abstractmethod
    def _log_odds_dead(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        """``log(P(dead) / P(alive))`` given the history; −inf when surely alive."""

    def probability_alive(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """``P(alive at T | x, t_x, T)``, from the model's log-odds of being dead (stable
        for odds far from 1, where ``1 / (1 + odds)`` would under- or overflow)."""
        x, t_x, t_cal = broadcast_float(frequency, recency, T)
        return np.asarray(expit(-self._log_odds_dead(x, t_x, t_cal)), dtype=np.float64)

    @abstractmethod
    def probability_of_n_purchases(self, t: npt.ArrayLike, n: npt.ArrayLike) -> FloatArray:
        """Unconditional ``P(X(t) = n)`` for a new customer (broadcasts)."""

    def expected_purchases_new_customer(self, t: npt.ArrayLike) -> FloatArray:
        """``E[X(t)]`` for a customer just acquired: the conditional expectation at
        ``x = t_x = T = 0`` (no history is the prior)."""
        return self.expected_purchases(t, 0.0, 0.0, 0.0)
