"""`regulars fit` on the raw CDNOW transactions reproduces the published estimates
(Fader, Hardie & Lee 2005; see tests/data/cdnow/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from regulars.cli import app

CDNOW = Path(__file__).parent.parent / "data" / "cdnow" / "CDNOW_sample.txt"
PUBLISHED = {
    "bgnbd": ({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, -9582.4),
    "pareto": ({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, -9595.0),
    "gammagamma": ({"p": 6.25, "q": 3.74, "gamma": 15.44}, None),
}


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The raw sample as a canonical orders CSV: one row per transaction record."""
    lines = ["order_id,customer_id,ordered_at,amount"]
    for i, record in enumerate(CDNOW.read_text().splitlines()):
        _master, customer, day, _cds, value = record.split()
        lines.append(f"{i},{customer},{day[:4]}-{day[4:6]}-{day[6:]},{value}")
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("model", list(PUBLISHED))
def test_fit_reproduces_published_cdnow_estimates(cdnow_csv: Path, model: str) -> None:
    result = CliRunner().invoke(
        app, ["fit", str(cdnow_csv), "--model", model, "--calibration-end", "1997-10-01", "--json"]
    )
    assert result.exit_code == 0, result.output
    fitted = json.loads(result.output)
    params, log_likelihood = PUBLISHED[model]
    assert fitted["model"] == model
    for name, value in params.items():
        decimals = len(str(value).split(".")[1])  # the published precision
        assert round(fitted["params"][name], decimals) == value, name
    if log_likelihood is not None:
        assert fitted["n_customers"] == 2357
        assert fitted["log_likelihood"] == pytest.approx(log_likelihood, abs=0.1)
        holdout = fitted["holdout"]
        assert holdout["total_actual"] == 1882  # purchase days in the 39-week holdout


def test_fit_rejects_an_unknown_model(cdnow_csv: Path) -> None:
    result = CliRunner().invoke(
        app, ["fit", str(cdnow_csv), "--model", "magic", "--calibration-end", "1997-10-01"]
    )
    assert result.exit_code != 0
