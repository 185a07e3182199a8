"""Which buy-till-you-die model a report uses, and how far its forecasts can be trusted.

**The choice** (:func:`choose_model`). BG/NBD, MBG/NBD and Pareto/NBD are fitted on the
history before a holdout period and checked on it
(:func:`regulars.models.service.fit_on_holdout`). They are compared on **who came
back**: the mean log loss of each model's probability that a customer buys again in the
holdout (:attr:`~regulars.models.validation.HoldoutReport.return_log_loss`). That
probability is where P(alive) meets what customers then did, so the model with the most
honest P(alive) scores best; the holdout purchase counts (MAE) barely tell the models
apart. The lowest log loss wins among MBG/NBD and Pareto/NBD (the latter only up to
:data:`PARETO_MAX_CUSTOMERS` customers: its quadrature is slow). BG/NBD is fitted for
comparison but never chosen: it assumes a customer can only leave after a *repeat*
purchase, so it gives every one-time buyer P(alive) = 1 at any age — customers the
activity window has long called lapsed. Without a holdout (too little history) or when
neither candidate can be checked, MBG/NBD is used (:data:`DEFAULT_MODEL`).

**Reliability** (:func:`assess_reliability`), shown with every forecast:

* ``hidden`` — fewer than :data:`MIN_CUSTOMERS` customers or :data:`MIN_REPEAT_BUYERS`
  repeat buyers: four parameters estimated from so few people are noise, so the
  forecasts are not shown at all;
* ``unchecked`` — enough customers, but no holdout check was possible;
* ``flagged`` — the holdout total of purchases is off by more than
  :data:`MAX_HOLDOUT_ERROR` (20 %);
* ``checked`` — within it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import ibis

from regulars.errors import ModelFitError
from regulars.models.service import (
    MODEL_LABELS,
    ModelReport,
    TransactionModelName,
    fit_on_holdout,
    with_tracking,
)
from regulars.models.validation import HoldoutReport

__all__ = [
    "COMPARED",
    "DEFAULT_MODEL",
    "ELIGIBLE",
    "MAX_HOLDOUT_ERROR",
    "MIN_CUSTOMERS",
    "MIN_REPEAT_BUYERS",
    "ModelChoice",
    "Reliability",
    "assess_reliability",
    "choose_model",
]

#: Fitted on the holdout, in order of preference when two score the same.
COMPARED: tuple[TransactionModelName, ...] = ("mbgnbd", "pareto", "bgnbd")
#: The models a report may use: their P(alive) falls for one-time buyers who stay away.
ELIGIBLE: tuple[TransactionModelName, ...] = ("mbgnbd", "pareto")
DEFAULT_MODEL: TransactionModelName = "mbgnbd"
#: The Pareto/NBD's quadrature costs about 64 times the MBG/NBD per distinct customer
#: history (docs/models.md, "Fit times"): past this many customers it is not compared.
PARETO_MAX_CUSTOMERS = 250_000

MIN_CUSTOMERS = 200
MIN_REPEAT_BUYERS = 50
MAX_HOLDOUT_ERROR = 0.2

Level = Literal["hidden", "unchecked", "flagged", "checked"]
#: Why the model was chosen: the holdout check, or the default without one.
Basis = Literal["holdout", "no_holdout", "unchecked"]


@dataclass(frozen=True)
class ModelChoice:
    """The model chosen, on what basis, and every holdout fit it was compared with
    (``compared`` by name; ``problems``: why a model could not be fitted)."""

    model: TransactionModelName
    basis: Basis
    compared: dict[str, ModelReport]
    problems: dict[str, str]
    calibration_end: date | None = None
    observation_end: date | None = None

    @property
    def label(self) -> str:
        return MODEL_LABELS[self.model]

    @property
    def holdout(self) -> HoldoutReport | None:
        """The chosen model's holdout check, when there was one."""
        report = self.compared.get(self.model)
        return None if report is None else report.holdout

    def scores(self) -> dict[str, float]:
        """The holdout log loss of every model that could be checked, best first."""
        found = {n: s for n, r in self.compared.items() if (s := _score(r)) is not None}
        return dict(sorted(found.items(), key=lambda item: item[1]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "basis": self.basis,
            "calibration_end": _iso(self.calibration_end),
            "observation_end": _iso(self.observation_end),
            "compared": {
                name: {
                    "return_log_loss": None if r.holdout is None else r.holdout.return_log_loss,
                    "mae": None if r.holdout is None else r.holdout.mae,
                    "total_error": None if r.holdout is None else r.holdout.total_error,
                    "eligible": name in ELIGIBLE,
                }
                for name, r in self.compared.items()
            },
            "problems": self.problems,
        }


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _score(report: ModelReport) -> float | None:
    holdout = report.holdout
    if not report.converged or holdout is None or holdout.n_customers == 0:
        return None
    return holdout.return_log_loss


def choose_model(
    orders: ibis.Table, *, calibration_end: date | None, observation_end: date, unit: str = "week"
) -> ModelChoice:
    """Fit the models of :data:`COMPARED` on ``[…, calibration_end)``, check them on
    ``[calibration_end, observation_end)`` and pick one (see the module docstring).
    ``calibration_end`` None means there is no holdout: :data:`DEFAULT_MODEL`."""
    if calibration_end is None:
        return ModelChoice(DEFAULT_MODEL, "no_holdout", {}, {})
    fitted = fit_on_holdout(
        orders,
        COMPARED,
        calibration_end=calibration_end,
        observation_end=observation_end,
        unit=unit,
        tracking=False,
        max_customers={"pareto": PARETO_MAX_CUSTOMERS},
    )
    compared = {n: r for n, r in fitted.items() if isinstance(r, ModelReport)}
    problems = {n: str(r) for n, r in fitted.items() if isinstance(r, ModelFitError)}
    choice = ModelChoice(
        DEFAULT_MODEL, "unchecked", compared, problems, calibration_end, observation_end
    )
    eligible = [n for n in choice.scores() if n in ELIGIBLE]
    chosen = eligible[0] if eligible else DEFAULT_MODEL
    if chosen in compared:  # the tracking chart, for the chosen model only
        compared[chosen] = with_tracking(orders, compared[chosen])
    basis: Basis = "holdout" if eligible else "unchecked"
    return ModelChoice(chosen, basis, compared, problems, calibration_end, observation_end)


@dataclass(frozen=True)
class Reliability:
    """How far the forecasts can be trusted, with the evidence (module docstring)."""

    level: Level
    customers: int
    repeat_buyers: int
    holdout_error: float | None
    holdout_mae: float | None

    @property
    def shown(self) -> bool:
        """Whether forecasts are shown at all."""
        return self.level != "hidden"

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "customers": self.customers,
            "repeat_buyers": self.repeat_buyers,
            "holdout_error": self.holdout_error,
            "holdout_mae": self.holdout_mae,
            "minimum_customers": MIN_CUSTOMERS,
            "minimum_repeat_buyers": MIN_REPEAT_BUYERS,
            "maximum_holdout_error": MAX_HOLDOUT_ERROR,
        }


def assess_reliability(
    customers: int, repeat_buyers: int, holdout: HoldoutReport | None
) -> Reliability:
    """The level of trust in forecasts from ``customers`` (of whom ``repeat_buyers``
    bought more than once) and the chosen model's holdout check, if any."""
    error = None if holdout is None else holdout.total_error
    mae = None if holdout is None else holdout.mae
    level: Level
    if customers < MIN_CUSTOMERS or repeat_buyers < MIN_REPEAT_BUYERS:
        level = "hidden"
    elif error is None:
        level = "unchecked"
    elif abs(error) > MAX_HOLDOUT_ERROR:
        level = "flagged"
    else:
        level = "checked"
    return Reliability(level, customers, repeat_buyers, error, mae)
