"""Who to call (regulars.models.risk): at risk = still active with twice the shop's odds
of churning, ranked by value at risk = P(churn) × 12-month CLV."""

from __future__ import annotations

import pyarrow as pa
import pytest

from regulars.models.risk import at_risk, risk_threshold, with_value_at_risk

CUSTOMERS = pa.table(
    {
        "customer_id": ["champ", "drift", "small", "gone", "safe", "unscored"],
        "active": [True, True, True, False, True, True],
        "churn_risk": [91.0, 95.0, 99.0, 99.5, 60.0, None],
        "clv_12m": [500.0, 120.0, 5.0, 80.0, 900.0, None],
    }
)


def test_threshold_follows_the_base_rate() -> None:
    # odds(threshold) = 2 × odds(base): 82 % → 90.1 %, 50 % → 66.7 %, 10 % → 18.2 %
    assert risk_threshold(0.82) == pytest.approx(0.9011, abs=1e-4)
    assert risk_threshold(0.5) == pytest.approx(2 / 3)
    assert risk_threshold(0.1) == pytest.approx(0.1818, abs=1e-4)


def test_at_risk_is_active_riskier_than_twice_the_odds_by_value_at_risk() -> None:
    scored = with_value_at_risk(CUSTOMERS)
    # base 82 % → threshold 90.1 %: champ 91 (value 455), drift 95 (114), small 99
    # (4.95); gone has lapsed (a win-back, not a save); safe is below the threshold.
    rows = at_risk(scored, 0.82).to_pylist()
    assert [r["customer_id"] for r in rows] == ["champ", "drift", "small"]
    assert [r["value_at_risk"] for r in rows] == pytest.approx([455.0, 114.0, 4.95])


def test_a_low_base_rate_lowers_the_bar() -> None:
    # A café where only 30 % skip a quarter: threshold 46.2 %, so "safe" (60 %) is at risk
    # and, with the largest CLV, comes first.
    rows = at_risk(with_value_at_risk(CUSTOMERS), 0.3).to_pylist()
    assert [r["customer_id"] for r in rows][:2] == ["safe", "champ"]
