"""Shared fitting machinery: input checks, de-duplication with weights, the convergence
report, serialisation."""

from __future__ import annotations

import json

import btyd_data as cdnow
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from regulars.errors import ModelFitError
from regulars.models import (
    BetaGeoModel,
    ModelConvergenceWarning,
    ModifiedBetaGeoModel,
    NotFittedError,
    ParetoNBDModel,
)
from regulars.models.base import TransactionModel
from regulars.models.inputs import dedupe, prepare_customer_data, unique_rows

MODELS: list[type[TransactionModel]] = [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("frequency", "recency", "age", "message"),
    [
        ([], [], [], "no customers"),
        ([3], [10.0], [20.0], "cannot support"),  # one customer
        ([0, 0, 0, 0, 0, 0], [0] * 6, [5.0, 6, 7, 8, 9, 10], "nobody made a repeat purchase"),
        ([1, 0, 2, 0, 1], [1.0, 0, 2, 0, np.nan], [5.0, 6, 7, 8, 9], "not finite"),
        ([1, 0, 2, 0, 1], [1.0, 0, 2, 0, 1], [5.0, 6, np.inf, 8, 9], "not finite"),
        ([1, 0, -2, 0, 1], [1.0, 0, 2, 0, 1], [5.0, 6, 7, 8, 9], "negative"),
        ([1, 0, 2, 0, 1], [1.0, 0, 2, 0, 1], [5.0, 6, 7, -8, 9], "negative"),
        ([1, 0, 2, 0, 1], [1.0, 0, 9, 0, 1], [5.0, 6, 7, 8, 9], "recency exceeds T"),
        ([1, 0, 2, 0, 1], [1.0, 3, 2, 0, 1], [5.0, 6, 7, 8, 9], "no repeat purchase"),
        ([1, 0, 2.5, 0, 1], [1.0, 0, 2, 0, 1], [5.0, 6, 7, 8, 9], "whole number"),
        ([1, 0, 2, 0], [1.0, 0, 2, 0, 1], [5.0, 6, 7, 8, 9], "differ in length"),
        (["a", 0, 2, 0, 1], [1.0, 0, 2, 0, 1], [5.0, 6, 7, 8, 9], "not numeric"),
    ],
)
def test_data_that_cannot_support_a_fit(
    model: type[TransactionModel],
    frequency: list[float],
    recency: list[float],
    age: list[float],
    message: str,
) -> None:
    with pytest.raises(ModelFitError, match=message):
        model().fit(frequency, recency, age)


def test_weights_are_checked() -> None:
    with pytest.raises(ModelFitError, match="whole numbers"):
        prepare_customer_data(
            [1, 0, 2, 0, 1], [1, 0, 1, 0, 1], [5] * 5, [1, 1, 1.5, 1, 1], n_params=4
        )
    with pytest.raises(ModelFitError, match="negative"):
        prepare_customer_data(
            [1, 0, 2, 0, 1], [1, 0, 1, 0, 1], [5] * 5, [1, 1, -1, 1, 1], n_params=4
        )
    with pytest.raises(ModelFitError, match="weights"):
        prepare_customer_data([1, 0, 2, 0, 1], [1, 0, 1, 0, 1], [5] * 5, [1, 1], n_params=4)


def test_dedupe_sums_weights_and_drops_zero_weights() -> None:
    (x, t), w = dedupe(
        [np.array([1.0, 1.0, 2.0, 1.0, 3.0]), np.array([0.5, 0.5, 1.0, 0.5, 2.0])],
        np.array([1.0, 2.0, 1.0, 1.0, 0.0]),
    )
    np.testing.assert_array_equal(x, [1.0, 2.0])
    np.testing.assert_array_equal(t, [0.5, 1.0])
    np.testing.assert_array_equal(w, [4.0, 1.0])


def test_weights_equal_repeated_rows() -> None:
    """A fit on distinct rows with counts is the fit on the customers themselves."""
    s = cdnow.summary()
    stacked = np.column_stack([s["frequency"], s["recency"], s["T"]])
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    weighted = BetaGeoModel().fit(unique[:, 0], unique[:, 1], unique[:, 2], counts).result
    plain = BetaGeoModel().fit(s["frequency"], s["recency"], s["T"]).result
    assert weighted.n_customers == plain.n_customers == 2357
    assert weighted.n_unique == plain.n_unique == unique.shape[0]
    assert weighted.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-9)
    for name in plain.params:
        assert weighted.params[name] == pytest.approx(plain.params[name], rel=1e-6)


@pytest.mark.parametrize("model", MODELS)
def test_zero_age_customers(model: type[TransactionModel]) -> None:
    """Customers acquired on the last day (T = 0) carry no information but are valid."""
    s = cdnow.summary()
    x = np.concatenate([s["frequency"], np.zeros(50)])
    t_x = np.concatenate([s["recency"], np.zeros(50)])
    age = np.concatenate([s["T"], np.zeros(50)])
    with_zero = model().fit(x, t_x, age).result
    assert with_zero.converged
    assert with_zero.n_customers == 2357 + 50
    fitted = model.from_params(**with_zero.params)
    assert float(fitted.expected_purchases(10.0, 0, 0, 0)) == pytest.approx(
        float(fitted.expected_purchases_new_customer(10.0))
    )
    assert float(fitted.log_likelihood([0], [0], [0])) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("model", MODELS)
def test_unidentified_data_gives_a_convergence_report(model: type[TransactionModel]) -> None:
    """Identical Poisson buyers who never leave: no heterogeneity, the optimum is at the
    boundary. The fit says so instead of failing silently."""
    rng = np.random.default_rng(1)
    age = np.full(500, 30.0)
    x = rng.poisson(15.0, 500).astype(float)
    t_x = np.where(x > 0, 30.0 * rng.beta(np.maximum(x, 1.0), 1.0), 0.0)
    with pytest.warns(ModelConvergenceWarning, match="not converged"):
        result = model().fit(x, t_x, age).result
    assert not result.converged
    assert result.message.startswith("not converged")


def test_result_serialises_and_params_are_guarded() -> None:
    s = cdnow.summary()
    result = BetaGeoModel().fit(s["frequency"], s["recency"], s["T"]).result
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["model"] == "bgnbd"
    assert set(payload["params"]) == {"r", "alpha", "a", "b"}
    assert payload["converged"] is True
    assert result.iterations > 0
    assert result.fit_seconds > 0
    with pytest.raises(NotFittedError):
        _ = BetaGeoModel().params
    with pytest.raises(NotFittedError):
        _ = BetaGeoModel.from_params(r=1, alpha=1, a=1, b=1).result
    with pytest.raises(ValueError, match="exactly"):
        BetaGeoModel.from_params(r=1, alpha=1, a=1)
    with pytest.raises(ValueError, match="positive"):
        BetaGeoModel.from_params(r=1, alpha=1, a=1, b=-1)
    assert "alpha=" in repr(BetaGeoModel.from_params(r=1, alpha=2, a=3, b=4))


@pytest.mark.parametrize("model", MODELS)
def test_prediction_arguments_are_checked(model: type[TransactionModel]) -> None:
    m = model.from_params(**dict(zip(model.param_names, [0.5, 5.0, 0.8, 3.0], strict=True)))
    with pytest.raises(ValueError, match="horizon"):
        m.expected_purchases(-1.0, 1, 1.0, 2.0)
    with pytest.raises(ValueError, match="horizon"):
        m.probability_of_n_purchases(-1.0, 1)
    with pytest.raises(ValueError, match="whole number"):
        m.probability_of_n_purchases(1.0, 1.5)
    with pytest.raises(ValueError, match="whole number"):
        m.probability_of_n_purchases(1.0, -1)


@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 6), st.integers(0, 3)),
        min_size=1,
        max_size=60,
    )
)
def test_unique_rows_matches_numpy_unique(rows: list[tuple[int, int, int]]) -> None:
    stacked = np.array(rows, dtype=np.float64) / [1.0, 7.0, 0.5]
    columns = [np.ascontiguousarray(stacked[:, i]) for i in range(3)]
    unique, inverse = unique_rows(*columns)
    expected, expected_inverse = np.unique(stacked, axis=0, return_inverse=True)
    for i in range(3):
        np.testing.assert_array_equal(unique[i], expected[:, i])
        np.testing.assert_array_equal(unique[i][inverse], columns[i])
    np.testing.assert_array_equal(inverse, expected_inverse.ravel())
