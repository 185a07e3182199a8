"""Probabilistic customer-base models: BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma, CLV.

Fitted by maximum likelihood on per-customer ``(frequency, recency, T)`` summaries built in
the analytics engine (:func:`btyd_summary`). The maths and the CDNOW validation are in
``docs/models.md``.
"""

from regulars.models.base import NotFittedError, SpendCorrelationWarning, TransactionModel
from regulars.models.bgnbd import BetaGeoModel
from regulars.models.clv import customer_lifetime_value, discounted_expected_purchases
from regulars.models.estimation import FitResult, ModelConvergenceWarning
from regulars.models.gamma_gamma import GammaGammaModel
from regulars.models.mbgnbd import ModifiedBetaGeoModel
from regulars.models.pareto_nbd import ParetoNBDModel
from regulars.models.service import ModelReport, fit_model, score_customers
from regulars.models.summary import btyd_summary
from regulars.models.validation import HoldoutReport, holdout_report

__all__ = [
    "BetaGeoModel",
    "FitResult",
    "GammaGammaModel",
    "HoldoutReport",
    "ModelConvergenceWarning",
    "ModelReport",
    "ModifiedBetaGeoModel",
    "NotFittedError",
    "ParetoNBDModel",
    "SpendCorrelationWarning",
    "TransactionModel",
    "btyd_summary",
    "customer_lifetime_value",
    "discounted_expected_purchases",
    "fit_model",
    "holdout_report",
    "score_customers",
]
