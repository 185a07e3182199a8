"""Shared machinery of the probabilistic models: input checks, de-duplication, maximum
likelihood in log-parameter space, standard errors, information criteria.

Fitting
-------
Every model is fitted by maximum likelihood on the de-duplicated rows of its summary
(``(x, t_x, T)`` for the transaction models, ``(x, z̄)`` for Gamma-Gamma), each row carrying
an integer weight = how many customers share it. With day-level data a shop with millions
of customers has far fewer distinct rows, so one likelihood evaluation is cheap.

All parameters are positive; the optimiser works on ``θ = log(param)`` (no bounds needed
in practice; ``±18.4``, i.e. 1e-8…1e8, are kept as a safety net). The objective is the
*mean* negative log-likelihood per customer, so tolerances do not depend on the size of
the data. Steps:

1. the model's starting points (a few, from simple moments of the data) are ranked by
   their likelihood; L-BFGS-B (``scipy.optimize.minimize``) runs from the best one, with
   the model's analytic gradient (all four models have one) or else central differences
   (step 1e-5 in ``θ``);
2. Newton steps polish the solution, with the Hessian from differences of the gradient
   — the observed information matrix;
3. a convergence report: converged only when the final gradient is below ``1e-6`` per
   customer, the Hessian is positive definite and no parameter sits on a bound. When the
   first run does not converge the next starting point is tried; the best run is kept,
   and a fit that still fails is reported (``converged=False``, a message and a
   :class:`ModelConvergenceWarning`), never silently returned as if fine.

Standard errors
---------------
With ``H`` the Hessian of the negative log-likelihood in ``θ``, ``Cov(θ̂) = H⁻¹``; by the
delta method ``se(p̂) = p̂·se(θ̂)`` for ``p = e^θ`` (Cov(p̂) = D·H⁻¹·D with D = diag(p̂)).

Information criteria: ``AIC = 2k − 2ℓ``, ``BIC = k·ln(n) − 2ℓ`` with ``k`` parameters and
``n`` customers.
"""

from __future__ import annotations

import math
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal, Self

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import expit

from regulars.errors import ModelFitError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

TimeUnit = Literal["day", "week", "month"]

#: Length of one model time unit in days. A month is 365.25/12 = 30.4375 days.
DAYS_PER_UNIT: Final[dict[str, float]] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12.0}

_LOG_BOUND: Final[float] = math.log(1e8)
_GRAD_STEP: Final[float] = 1e-5
_HESS_STEP: Final[float] = 1e-4
_GRAD_TOL: Final[float] = 1e-6
_PENALTY: Final[float] = 1e10


def days_per_unit(unit: str) -> float:
    """Days in one time unit (``day``, ``week`` or ``month``)."""
    try:
        return DAYS_PER_UNIT[unit]
    except KeyError:
        raise ValueError(f"unit must be one of {sorted(DAYS_PER_UNIT)}, got {unit!r}") from None


class NotFittedError(RuntimeError):
    """A prediction was asked of a model that has neither been fitted nor given params."""


class ModelConvergenceWarning(UserWarning):
    """The optimiser stopped without meeting the convergence criteria (see FitResult)."""


class SpendCorrelationWarning(UserWarning):
    """Spend and frequency are correlated: the Gamma-Gamma independence assumption fails."""


@dataclass(frozen=True)
class FitResult:
    """What a maximum-likelihood fit found, and how well the optimiser did.

    ``params`` use the literature's names; ``standard_errors`` and ``covariance`` (natural
    parameter scale, in ``param_names`` order) come from the observed information by the
    delta method (NaN when the Hessian is not positive definite); ``n_customers`` is the
    total weight and ``n_unique`` the number of distinct rows actually evaluated;
    ``converged``/``message``/``iterations``/``gradient_norm`` (max |∂ℓ/∂θ| per customer)
    report on the optimiser; ``diagnostics`` holds model-specific checks (the Gamma-Gamma
    ``frequency_spend_correlation``).
    """

    model: str
    params: dict[str, float]
    standard_errors: dict[str, float]
    log_likelihood: float
    aic: float
    bic: float
    n_customers: int
    n_unique: int
    converged: bool
    iterations: int
    message: str
    gradient_norm: float
    fit_seconds: float
    covariance: FloatArray = field(repr=False, compare=False)
    diagnostics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (non-finite numbers become ``None``)."""
        return {
            "model": self.model,
            "params": {k: _json_float(v) for k, v in self.params.items()},
            "standard_errors": {k: _json_float(v) for k, v in self.standard_errors.items()},
            "log_likelihood": _json_float(self.log_likelihood),
            "aic": _json_float(self.aic),
            "bic": _json_float(self.bic),
            "n_customers": self.n_customers,
            "n_unique": self.n_unique,
            "converged": self.converged,
            "iterations": self.iterations,
            "message": self.message,
            "gradient_norm": _json_float(self.gradient_norm),
            "fit_seconds": _json_float(self.fit_seconds),
            "diagnostics": {k: _json_float(v) for k, v in self.diagnostics.items()},
        }


def _json_float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


# --------------------------------------------------------------------------- input checks


def as_float_array(name: str, values: npt.ArrayLike) -> FloatArray:
    """A float64 copy of ``values`` (1-D); raises ModelFitError on non-numeric input."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelFitError(f"{name}: not numeric ({exc})") from exc
    return np.atleast_1d(arr).ravel()


def check_finite_nonnegative(name: str, arr: FloatArray) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ModelFitError(f"{name}: {int(bad.sum())} value(s) are missing or not finite")
    if (arr < 0).any():
        raise ModelFitError(f"{name}: {int((arr < 0).sum())} value(s) are negative")


def check_weights(weights: npt.ArrayLike | None, n: int) -> FloatArray:
    """Integer, non-negative weights (default 1 per row)."""
    if weights is None:
        return np.ones(n, dtype=np.float64)
    w = as_float_array("weights", weights)
    if w.shape[0] != n:
        raise ModelFitError(f"weights: {w.shape[0]} values for {n} rows")
    check_finite_nonnegative("weights", w)
    if np.any(np.abs(w - np.round(w)) > 1e-9):
        raise ModelFitError("weights must be whole numbers (customer counts)")
    return np.round(w)


def dedupe(
    columns: Sequence[FloatArray], weights: FloatArray
) -> tuple[list[FloatArray], FloatArray]:
    """Distinct rows of ``columns`` and the summed weight of each (zero weights dropped)."""
    keep = weights > 0
    unique, inverse = unique_rows(*(c[keep] for c in columns))
    summed = np.asarray(
        np.bincount(inverse, weights=weights[keep], minlength=unique[0].shape[0]),
        dtype=np.float64,
    )
    return unique, summed


def unique_rows(*columns: FloatArray) -> tuple[list[FloatArray], IntArray]:
    """Distinct rows, in lexicographic order, and the inverse index
    (``unique[inverse] == original``): predictions are computed once per distinct
    ``(x, t_x, T)`` and scattered back.

    Same result as ``np.unique(np.column_stack(columns), axis=0, return_inverse=True)``,
    which sorts rows as opaque byte strings and took 7 s on 3.4 M customers; one
    ``lexsort`` plus a neighbour comparison takes under a second.
    """
    n = columns[0].shape[0]
    order = np.lexsort(columns[::-1])  # lexsort's last key is the primary one
    ordered = [np.asarray(c)[order] for c in columns]
    starts = np.ones(n, dtype=bool)
    for column in ordered:
        starts[1:] &= column[1:] == column[:-1]
    starts = ~starts
    starts[:1] = True
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(starts) - 1
    return [np.ascontiguousarray(c[starts]) for c in ordered], inverse


@dataclass(frozen=True)
class CustomerData:
    """De-duplicated ``(x, t_x, T)`` rows with integer weights."""

    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    weights: FloatArray

    @property
    def n_customers(self) -> int:
        return round(float(self.weights.sum()))

    @property
    def n_unique(self) -> int:
        return int(self.frequency.shape[0])


def prepare_customer_data(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    *,
    n_params: int,
) -> CustomerData:
    """Check a ``(frequency, recency, T)`` summary and de-duplicate it.

    Raises :class:`~regulars.errors.ModelFitError` for: no rows, mismatched lengths,
    missing/non-finite or negative values, non-integer frequencies, ``recency > T``,
    ``recency > 0`` with ``frequency = 0``, fewer customers than parameters, and data in
    which nobody made a repeat purchase (the dropout process is then not identified).
    """
    x = as_float_array("frequency", frequency)
    t_x = as_float_array("recency", recency)
    t_cal = as_float_array("T", T)
    n = x.shape[0]
    if n == 0:
        raise ModelFitError("no customers to fit the model on")
    if t_x.shape[0] != n or t_cal.shape[0] != n:
        raise ModelFitError(
            f"frequency, recency and T differ in length ({n}, {t_x.shape[0]}, {t_cal.shape[0]})"
        )
    for name, arr in (("frequency", x), ("recency", t_x), ("T", t_cal)):
        check_finite_nonnegative(name, arr)
    if np.any(np.abs(x - np.round(x)) > 1e-9):
        raise ModelFitError("frequency must be a whole number of repeat purchases")
    x = np.round(x)
    tol = 1e-9 * np.maximum(t_cal, 1.0)
    if np.any(t_x > t_cal + tol):
        bad = int(np.sum(t_x > t_cal + tol))
        raise ModelFitError(f"recency exceeds T for {bad} customer(s): recency must be ≤ T")
    t_x = np.minimum(t_x, t_cal)
    if np.any((x == 0) & (t_x > 0)):
        bad = int(np.sum((x == 0) & (t_x > 0)))
        raise ModelFitError(
            f"{bad} customer(s) have recency > 0 but no repeat purchase (recency must be 0)"
        )
    w = check_weights(weights, n)
    total = float(w.sum())
    if total <= n_params:
        raise ModelFitError(f"{int(total)} customer(s) cannot support a {n_params}-parameter model")
    if float(w[x > 0].sum()) == 0:
        raise ModelFitError(
            "nobody made a repeat purchase: the data cannot tell how often customers "
            "buy again or when they leave"
        )
    (ux, ut_x, ut), uw = dedupe([x, t_x, t_cal], w)
    return CustomerData(ux, ut_x, ut, uw)


# --------------------------------------------------------------------------- optimisation


@dataclass(frozen=True)
class _Optimum:
    theta: FloatArray
    value: float
    gradient: FloatArray
    hessian: FloatArray
    iterations: int
    message: str


MeanLogLik = Callable[[FloatArray], float]
MeanLogLikGrad = Callable[[FloatArray], tuple[float, FloatArray]]


class _Objective:
    """Mean negative log-likelihood in ``θ = log(params)``, with its gradient (analytic
    when the model provides one, else central differences) and Hessian (differences of
    the analytic gradient, else second differences of the value). Non-finite values
    become a large penalty so that line searches back off."""

    def __init__(self, mean_log_lik: MeanLogLik, mean_log_lik_grad: MeanLogLikGrad | None):
        self._f = mean_log_lik
        self._fg = mean_log_lik_grad

    def value(self, theta: FloatArray) -> float:
        with np.errstate(all="ignore"):
            value = -float(self._f(theta))
        return value if math.isfinite(value) else _PENALTY

    def value_and_grad(self, theta: FloatArray) -> tuple[float, FloatArray]:
        if self._fg is None:
            return self.value(theta), numerical_gradient(self.value, theta)
        with np.errstate(all="ignore"):
            value, grad = self._fg(theta)
        if not (math.isfinite(value) and np.all(np.isfinite(grad))):
            return _PENALTY, np.zeros_like(theta)
        return -float(value), -np.asarray(grad, dtype=np.float64)

    def gradient(self, theta: FloatArray) -> FloatArray:
        return self.value_and_grad(theta)[1]

    def hessian(self, theta: FloatArray) -> FloatArray:
        if self._fg is None:
            return numerical_hessian(self.value, theta)
        k = theta.shape[0]
        hess = np.empty((k, k))
        for i in range(k):
            h = _GRAD_STEP * max(1.0, abs(float(theta[i])))
            up, down = theta.copy(), theta.copy()
            up[i] += h
            down[i] -= h
            hess[:, i] = (self.gradient(up) - self.gradient(down)) / (2.0 * h)
        return np.asarray((hess + hess.T) / 2.0, dtype=np.float64)


def numerical_gradient(f: Callable[[FloatArray], float], theta: FloatArray) -> FloatArray:
    """Central differences, step ``1e-5·max(1, |θ_i|)``."""
    grad = np.empty_like(theta)
    for i in range(theta.shape[0]):
        h = _GRAD_STEP * max(1.0, abs(float(theta[i])))
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2.0 * h)
    return grad


def numerical_hessian(f: Callable[[FloatArray], float], theta: FloatArray) -> FloatArray:
    """Second central differences, step ``1e-4·max(1, |θ_i|)``."""
    k = theta.shape[0]
    h = _HESS_STEP * np.maximum(1.0, np.abs(theta))
    f0 = f(theta)
    hess = np.empty((k, k))
    for i in range(k):
        e_i = np.zeros(k)
        e_i[i] = h[i]
        hess[i, i] = (f(theta + 2 * e_i) - 2.0 * f0 + f(theta - 2 * e_i)) / (4.0 * h[i] ** 2)
        for j in range(i):
            e_j = np.zeros(k)
            e_j[j] = h[j]
            value = (
                f(theta + e_i + e_j)
                - f(theta + e_i - e_j)
                - f(theta - e_i + e_j)
                + f(theta - e_i - e_j)
            ) / (4.0 * h[i] * h[j])
            hess[i, j] = hess[j, i] = value
    return hess


def _is_positive_definite(matrix: FloatArray) -> bool:
    if not np.all(np.isfinite(matrix)):
        return False
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return True


def _newton_polish(
    objective: _Objective, theta: FloatArray, value: float, max_steps: int = 20
) -> tuple[FloatArray, float, FloatArray, FloatArray, int]:
    """Damped Newton steps (Hessian computed once, gradient at every step) from an
    L-BFGS-B solution; stops when the predicted decrease ``gᵀH⁻¹g/2`` is below 1e-14
    (per customer). Returns the final gradient and a fresh Hessian at the solution."""
    hess = objective.hessian(theta)
    grad = objective.gradient(theta)
    steps = 0
    if _is_positive_definite(hess):
        for _ in range(max_steps):
            step = -np.linalg.solve(hess, grad)
            if -float(grad @ step) / 2.0 < 1e-14:
                break
            scale = 1.0
            for _ in range(30):
                candidate = np.clip(theta + scale * step, -_LOG_BOUND, _LOG_BOUND)
                cand_value = objective.value(candidate)
                if cand_value <= value:
                    break
                scale /= 2.0
            else:
                break
            theta, value = candidate, cand_value
            steps += 1
            grad = objective.gradient(theta)
        if steps:
            hess = objective.hessian(theta)
    return theta, value, grad, hess, steps


def _minimise(objective: _Objective, starts: Sequence[FloatArray], max_iter: int) -> _Optimum:
    """Optimise from the start with the best objective; fall back to the other starts when
    that run does not converge (the best optimum wins)."""
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(starts[0])
    thetas = [
        np.clip(np.log(np.asarray(start, dtype=np.float64)), -_LOG_BOUND, _LOG_BOUND)
        for start in starts
    ]
    values = [objective.value(theta) for theta in thetas]
    order = [i for i in np.argsort(values) if values[i] < _PENALTY]
    if not order:
        raise ModelFitError("the likelihood is not finite at any starting point")
    best: _Optimum | None = None
    iterations = 0
    for i in order:
        res = minimize(
            objective.value_and_grad,
            thetas[i],
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iter, "ftol": 1e-13, "gtol": 1e-8, "maxcor": 20},
        )
        theta, value = np.asarray(res.x, dtype=np.float64), float(res.fun)
        theta, value, grad, hess, newton_steps = _newton_polish(objective, theta, value)
        iterations += int(res.nit) + newton_steps
        candidate = _Optimum(theta, value, grad, hess, iterations, str(res.message))
        if best is None or candidate.value < best.value:
            best = candidate
        if _looks_converged(grad, hess, theta):
            break
    assert best is not None
    return _Optimum(best.theta, best.value, best.gradient, best.hessian, iterations, best.message)


def _looks_converged(grad: FloatArray, hess: FloatArray, theta: FloatArray) -> bool:
    return (
        float(np.max(np.abs(grad))) <= _GRAD_TOL
        and _is_positive_definite(hess)
        and not bool(np.any(np.abs(theta) >= _LOG_BOUND - 1e-6))
    )


def fit_maximum_likelihood(
    *,
    model: str,
    param_names: Sequence[str],
    mean_log_lik: MeanLogLik,
    starts: Sequence[FloatArray],
    n_customers: int,
    n_unique: int,
    mean_log_lik_grad: MeanLogLikGrad | None = None,
    max_iter: int = 2000,
    diagnostics: Mapping[str, float] | None = None,
) -> FitResult:
    """Maximise ``mean_log_lik(θ)`` (mean log-likelihood per customer as a function of the
    log-parameters; ``mean_log_lik_grad`` optionally returns it with its gradient in θ)
    and assemble a :class:`FitResult`. Warns with :class:`ModelConvergenceWarning` when
    the convergence criteria are not met."""
    started = time.perf_counter()
    opt = _minimise(_Objective(mean_log_lik, mean_log_lik_grad), starts, max_iter)
    params = np.exp(opt.theta)
    total_hessian = opt.hessian * n_customers
    grad_norm = float(np.max(np.abs(opt.gradient)))
    at_bound = bool(np.any(np.abs(opt.theta) >= _LOG_BOUND - 1e-6))
    positive_definite = _is_positive_definite(total_hessian)
    problems: list[str] = []
    if grad_norm > _GRAD_TOL:
        problems.append(f"gradient {grad_norm:.2g} per customer above {_GRAD_TOL:g}")
    if not positive_definite:
        problems.append("Hessian not positive definite (parameters not identified)")
    if at_bound:
        problems.append("a parameter reached the 1e-8/1e8 bound")
    converged = not problems
    if positive_definite:
        cov_theta = np.linalg.inv(total_hessian)
        cov = cov_theta * np.outer(params, params)
        se = np.sqrt(np.diag(cov))
    else:
        cov = np.full((params.shape[0], params.shape[0]), np.nan)
        se = np.full(params.shape[0], np.nan)
    log_lik = -opt.value * n_customers
    k = len(param_names)
    message = "converged" if converged else "not converged: " + "; ".join(problems)
    if converged and "CONVERGENCE" not in opt.message.upper():
        message = f"converged (L-BFGS-B: {opt.message}; polished by Newton steps)"
    result = FitResult(
        model=model,
        params={n: float(v) for n, v in zip(param_names, params, strict=True)},
        standard_errors={n: float(v) for n, v in zip(param_names, se, strict=True)},
        log_likelihood=float(log_lik),
        aic=float(2 * k - 2 * log_lik),
        bic=float(k * math.log(n_customers) - 2 * log_lik),
        n_customers=n_customers,
        n_unique=n_unique,
        converged=converged,
        iterations=opt.iterations,
        message=message,
        gradient_norm=grad_norm,
        fit_seconds=time.perf_counter() - started,
        covariance=cov,
        diagnostics=dict(diagnostics or {}),
    )
    if not converged:
        warnings.warn(f"{model}: {message}", ModelConvergenceWarning, stacklevel=3)
    return result


# --------------------------------------------------------------------------- model bases


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


def broadcast_float(*values: npt.ArrayLike) -> tuple[FloatArray, ...]:
    """Float64 arrays broadcast to a common shape."""
    arrays = [np.asarray(v, dtype=np.float64) for v in values]
    return tuple(np.broadcast_arrays(*arrays))


def check_horizon(t: FloatArray) -> None:
    """Prediction horizons must be non-negative (NaN propagates)."""
    if np.any(t < 0):
        raise ValueError("the prediction horizon t must be ≥ 0")


def check_counts(n: FloatArray) -> None:
    """Purchase counts must be non-negative whole numbers."""
    if np.any(n < 0) or np.any(n != np.floor(n)):
        raise ValueError("n must be a non-negative whole number of purchases")
