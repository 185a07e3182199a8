"""Maximum likelihood for the probabilistic models: the fit in log-parameter space,
standard errors, information criteria, and the report of how the optimiser did.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from scipy.optimize import minimize

from regulars.errors import ModelFitError
from regulars.models.inputs import FloatArray

_LOG_BOUND: Final[float] = math.log(1e8)
_GRAD_STEP: Final[float] = 1e-5
_HESS_STEP: Final[float] = 1e-4
_GRAD_TOL: Final[float] = 1e-6
_PENALTY: Final[float] = 1e10


class ModelConvergenceWarning(UserWarning):
    """The optimiser stopped without meeting the convergence criteria (see FitResult)."""


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
