"""The report's model choice and the reliability of its forecasts
(regulars.models.selection), and the probability of no purchase behind the choice."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from regulars import Shop
from regulars.data.demo import generate_demo
from regulars.errors import ModelFitError
from regulars.models.bgnbd import BetaGeoModel
from regulars.models.mbgnbd import ModifiedBetaGeoModel
from regulars.models.pareto_nbd import ParetoNBDModel
from regulars.models.selection import (
    DEFAULT_MODEL,
    MAX_HOLDOUT_ERROR,
    MIN_CUSTOMERS,
    MIN_REPEAT_BUYERS,
    assess_reliability,
    choose_model,
)
from regulars.models.service import fit_on_holdout, score_customers
from regulars.models.validation import HoldoutReport

X = np.array([0.0, 1.0, 2.0, 5.0])
T_X = np.array([0.0, 10.0, 20.0, 30.0])
AGE = np.full(4, 38.86)


@pytest.mark.parametrize("model", [BetaGeoModel, ModifiedBetaGeoModel])
def test_no_purchase_probability_matches_the_closed_form(
    model: type[BetaGeoModel],
) -> None:
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    m = model.from_params(r=r, alpha=alpha, a=a, b=b)
    alive = m.probability_alive(X, T_X, AGE)
    closed = 1 - alive + alive * ((alpha + AGE) / (alpha + AGE + 39.0)) ** (r + X)
    assert m.probability_no_purchases(39.0, X, T_X, AGE) == pytest.approx(closed, rel=1e-10)


def test_no_purchase_probability_of_pareto_nbd_is_a_decreasing_probability() -> None:
    m = ParetoNBDModel.from_params(r=0.55, alpha=10.58, s=0.61, beta=11.67)
    p = m.probability_no_purchases(np.array([1.0, 10.0, 39.0, 100.0]), 2.0, 30.0, 38.86)
    assert np.all((p > 0) & (p < 1))
    assert np.all(np.diff(p) < 0)
    # far ahead only the dead and those who die before buying stay quiet: ≥ 1 − P(alive)
    assert p[-1] >= 1 - float(m.probability_alive(2.0, 30.0, 38.86))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Shop, Path]:
    folder = tmp_path_factory.mktemp("demo")
    shop = generate_demo(folder, n_transactions=4000, seed=7, fmt="parquet")
    return Shop.from_files([shop.orders]), shop.truth


def test_the_choice_never_falls_on_bgnbd_and_is_explained(demo: tuple[Shop, Path]) -> None:
    shop, _ = demo
    as_of = shop.default_as_of()
    choice = choose_model(shop.orders, calibration_end=date(2025, 11, 1), observation_end=as_of)
    assert choice.basis == "holdout"
    assert set(choice.compared) == {"bgnbd", "mbgnbd", "pareto"}
    assert choice.model in ("mbgnbd", "pareto")
    scores = choice.scores()
    eligible = {name: score for name, score in scores.items() if name != "bgnbd"}
    assert scores[choice.model] == min(eligible.values())
    assert choice.holdout is not None
    assert choice.to_dict()["compared"]["bgnbd"]["eligible"] is False
    # the tracking curve (a chart) is drawn for the chosen model only
    tracked = {n for n, r in choice.compared.items() if r.holdout and r.holdout.tracking}
    assert tracked == {choice.model}


def test_a_model_over_its_customer_cap_is_named_not_fitted(demo: tuple[Shop, Path]) -> None:
    shop, _ = demo
    fitted = fit_on_holdout(
        shop.orders,
        ["mbgnbd", "pareto"],
        calibration_end=date(2025, 11, 1),
        observation_end=shop.default_as_of(),
        tracking=False,
        max_customers={"pareto": 10},
    )
    assert isinstance(fitted["pareto"], ModelFitError)
    assert "not fitted on more than 10 customers" in str(fitted["pareto"])
    assert not isinstance(fitted["mbgnbd"], ModelFitError)
    assert fitted["mbgnbd"].holdout is not None
    assert fitted["mbgnbd"].holdout.tracking is None


def test_without_a_holdout_the_default_is_mbgnbd(demo: tuple[Shop, Path]) -> None:
    shop, _ = demo
    choice = choose_model(shop.orders, calibration_end=None, observation_end=date(2026, 11, 1))
    assert (choice.model, choice.basis, choice.holdout) == (DEFAULT_MODEL, "no_holdout", None)


def test_alive_count_is_close_to_the_generators_truth(demo: tuple[Shop, Path]) -> None:
    """Σ P(alive) of the chosen model against who the generator left alive; BG/NBD, which
    calls every one-time buyer alive, overstates it by far."""
    shop, truth_path = demo
    as_of = shop.default_as_of()
    truth = pq.read_table(truth_path)
    alive = dict(zip(truth["customer_id"].to_pylist(), truth["alive"].to_pylist(), strict=True))

    def alive_count(model: str) -> tuple[float, int]:
        scores = score_customers(shop.orders, as_of=as_of, model=model)  # type: ignore[arg-type]
        ids = scores.column("customer_id").to_pylist()
        return float(np.sum(scores.column("p_alive"))), sum(alive[c] for c in ids)

    estimate, actual = alive_count("mbgnbd")
    assert abs(estimate - actual) <= 0.1 * actual
    overstated, _ = alive_count("bgnbd")
    assert overstated > 1.5 * actual


def _holdout(total_actual: float, total_predicted: float) -> HoldoutReport:
    return HoldoutReport(
        model="mbgnbd",
        unit="week",
        calibration_end=date(2025, 1, 1),
        observation_end=date(2026, 1, 1),
        duration=52.0,
        n_customers=500,
        total_actual=total_actual,
        total_predicted=total_predicted,
        mae=1.0,
        rmse=1.5,
        by_frequency=[],
    )


def test_reliability_levels() -> None:
    enough = (MIN_CUSTOMERS, MIN_REPEAT_BUYERS)
    assert assess_reliability(10, 3, _holdout(100, 100)).level == "hidden"
    assert assess_reliability(MIN_CUSTOMERS, MIN_REPEAT_BUYERS - 1, None).level == "hidden"
    assert assess_reliability(*enough, None).level == "unchecked"
    off = 100 * (1 + MAX_HOLDOUT_ERROR) + 1
    flagged = assess_reliability(*enough, _holdout(100, off))
    assert (flagged.level, flagged.shown) == ("flagged", True)
    checked = assess_reliability(*enough, _holdout(100, 95))
    assert checked.level == "checked"
    assert checked.holdout_error == pytest.approx(-0.05)
