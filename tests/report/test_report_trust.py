"""A report a marketer can trust and act on: lifetime value independent of the period,
an alive count close to the truth, local days, contact lists, sentences for thin data."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from regulars import Shop
from regulars.cli import app
from regulars.data.spreadsheet import BOM
from regulars.errors import RegularsError
from regulars.report.build import compute_report
from regulars.report.document import MONEY_KEYS

runner = CliRunner()


def _metrics(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "metrics.json").read_text())  # type: ignore[no-any-return]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _report(orders: Path, out: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["report", str(orders), "--out", str(out), "--quiet", *args])
    assert result.exit_code == 0, result.output
    return _metrics(out)


# --- lifetime value ----------------------------------------------------------------------


@pytest.mark.parametrize("source", ["demo", "shopify"])
def test_historic_cltv_is_the_same_for_every_period(
    source: str, demo_report: Path, shopify_export: Path
) -> None:
    orders = demo_report / "data" / "orders.csv" if source == "demo" else shopify_export
    shop = Shop.from_files([orders])
    values = {
        period: compute_report(shop, period=period, models=False).lifetime  # type: ignore[arg-type]
        for period in ("month", "quarter", "year")
    }
    cltv = {period: value.historic_cltv for period, value in values.items()}
    assert len(set(cltv.values())) == 1, cltv
    # … and it is what the customers who lapsed actually spent, on average.
    customers = pq.read_table(demo_report / "customers.parquet") if source == "demo" else None
    if customers is not None:
        lapsed = customers.filter(pc.greater(customers.column("recency_days"), 365))
        spent = sum(lapsed.column("revenue").to_pylist(), Decimal(0)) / lapsed.num_rows
        assert cltv["month"] == spent.quantize(Decimal("0.01"))


# --- P(alive) ----------------------------------------------------------------------------


def test_alive_count_is_within_ten_percent_of_the_generators_truth(demo_report: Path) -> None:
    customers = pq.read_table(demo_report / "customers.parquet")
    truth = pq.read_table(demo_report / "data" / "truth.parquet")
    alive = {
        c
        for c, a in zip(truth["customer_id"].to_pylist(), truth["alive"].to_pylist(), strict=True)
        if a
    }
    actual = sum(1 for c in customers.column("customer_id").to_pylist() if c in alive)
    future = _metrics(demo_report)["future"]
    estimate = future["expected_active_customers"]
    assert abs(estimate - actual) <= 0.1 * actual, (estimate, actual)
    assert future["model_choice"]["model"] in ("mbgnbd", "pareto")
    assert future["reliability"]["level"] in ("checked", "flagged", "unchecked")


def test_customers_the_lapse_rule_calls_lost_are_never_surely_alive(demo_report: Path) -> None:
    customers = pq.read_table(demo_report / "customers.parquet")
    lapsed = customers.filter(pc.invert(customers.column("active")))
    assert lapsed.num_rows > 0
    assert pc.max(lapsed.column("p_alive")).as_py() < 0.9
    one_time = lapsed.filter(pc.equal(lapsed.column("orders"), 1))
    assert pc.mean(one_time.column("p_alive")).as_py() < 0.5
    lost = [s for s in _metrics(demo_report)["segments"] if s["segment"] == "Lost"]
    assert len(lost) == 1
    assert lost[0]["avg_p_alive"] < 0.5


# --- local days --------------------------------------------------------------------------


def test_shopify_local_days_match_hand_computation_without_a_time_zone(
    shopify_export: Path, tmp_path: Path
) -> None:
    """Monthly purchases counted by the day written in `Paid at` (the shop's own day),
    against the report run without --timezone; reading the times as UTC would differ."""
    local: Counter[str] = Counter()
    utc: Counter[str] = Counter()
    moved = 0
    for row in _rows(shopify_export):
        if row["Financial Status"] not in ("paid", "partially_refunded"):
            continue
        written = datetime.strptime(row["Paid at"], "%Y-%m-%d %H:%M:%S %z")
        local[written.strftime("%Y-%m")] += 1
        utc[written.astimezone(UTC).strftime("%Y-%m")] += 1
        moved += written.date() != written.astimezone(UTC).date()
    assert moved > 0.1 * sum(local.values())  # a US shop: evening orders are tomorrow in UTC
    assert local != utc
    doc = _report(shopify_export, tmp_path / "out", "--no-models")
    trend = {row["period_start"][:7]: row["orders"] for row in doc["trend"]}
    assert trend == {month: local[month] for month in trend}
    assert doc["time"]["timezone"] is None
    assert doc["time"]["offsets_minutes"] == [-300, -240]
    assert doc["time"]["assumed_utc"] is False
    html = (tmp_path / "out" / "report.html").read_text()
    assert "UTC−05:00, UTC−04:00" in html


def test_naive_times_without_a_time_zone_are_said_to_be_utc(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,ordered_at,amount\n1,a,2025-01-10 10:00,10.00\n"
        "2,b,2025-03-10 10:00,20.00\n3,a,2025-04-02 10:00,30.00\n"
    )
    doc = _report(orders, tmp_path / "utc", "--no-models")
    assert doc["time"]["assumed_utc"] is True
    assert "Days are UTC days" in (tmp_path / "utc" / "report.html").read_text()
    doc = _report(orders, tmp_path / "berlin", "--no-models", "--timezone", "Europe/Berlin")
    assert doc["time"]["timezone"] == "Europe/Berlin"
    html = (tmp_path / "berlin" / "report.html").read_text()
    assert "local to <b>Europe/Berlin</b>" in html


# --- who to call -------------------------------------------------------------------------


def test_every_segment_and_the_at_risk_list_download_as_spreadsheet_csv(
    demo_report: Path,
) -> None:
    doc = _metrics(demo_report)
    html = (demo_report / "report.html").read_text()
    links = set(re.findall(r'href="(contacts/[^"]+\.csv)"', html))
    assert len(links) == len(doc["segments"]) + 1  # every segment, and the at-risk list
    for link in links:
        path = demo_report / link
        assert path.read_bytes().startswith(BOM), link
    at_risk = _rows(demo_report / "contacts" / "at-risk-customers.csv")
    assert len(at_risk) == doc["future"]["at_risk"]["customers"] > 0
    values = [float(r["value_at_risk"]) for r in at_risk]
    assert values == sorted(values, reverse=True)
    threshold = 100 * doc["future"]["at_risk"]["threshold"]
    assert all(float(r["churn_risk"]) >= threshold - 0.05 for r in at_risk)
    champions = _rows(demo_report / "contacts" / "champions.csv")
    assert {r["segment"] for r in champions} == {"Champions"}
    assert len(champions) == next(
        s["customers"] for s in doc["segments"] if s["segment"] == "Champions"
    )


def test_shopify_contact_lists_carry_emails_and_neutralise_formulas(
    shopify_export: Path, tmp_path: Path
) -> None:
    text = shopify_export.read_text(encoding="utf-8").splitlines()
    # A customer whose name is a formula, as a hostile sign-up would write it.
    text.append(
        "#99999,mallory@example.com,paid,2026-10-20 20:00:00 -0400,USD,10.00,0.00,"
        '2026-10-20 20:00:00 -0400,1,Basket,10.00,"=HYPERLINK(""http://x"")",,web'
    )
    orders = tmp_path / "orders_export.csv"
    orders.write_text("\n".join(text) + "\n", encoding="utf-8")
    result = runner.invoke(
        app, ["segments", "export", str(orders), "--out", str(tmp_path / "lists"), "-q"]
    )
    assert result.exit_code == 0, result.output
    rows = [r for p in (tmp_path / "lists").glob("*.csv") for r in _rows(p)]
    mallory = [r for r in rows if r["email"] == "mallory@example.com"]
    assert len(mallory) == 1
    assert mallory[0]["name"] == '\'=HYPERLINK("http://x")'
    assert all(r["customer_id"] for r in rows)
    assert (tmp_path / "lists" / "at-risk-customers.csv").exists()


def test_segments_export_picks_segments_and_refuses_unknown_ones(
    demo_report: Path, tmp_path: Path
) -> None:
    orders = str(demo_report / "data" / "orders.csv")
    out = tmp_path / "lists"
    args = ["segments", "export", orders, "--out", str(out), "--no-models", "--no-at-risk", "-q"]
    result = runner.invoke(app, [*args, "--segment", "cant-lose-them", "--segment", "LOST"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["cant-lose-them.csv", "lost.csv"]
    assert "p_alive" not in _rows(out / "lost.csv")[0]
    result = runner.invoke(app, [*args, "--segment", "Whales"])
    assert isinstance(result.exception, RegularsError)  # the CLI prints it, exit status 2
    assert "Whales" in str(result.exception)


# --- presentation ------------------------------------------------------------------------


def _floats(value: Any, key: str | None = None) -> list[tuple[str | None, float]]:
    if isinstance(value, float):
        return [(key, value)]
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in _floats(v, k)]
    if isinstance(value, list):
        return [f for v in value for f in _floats(v, key)]
    return []


def test_json_keeps_plain_numbers_without_float_noise(demo_report: Path) -> None:
    text = (demo_report / "metrics.json").read_text()
    for key, value in _floats(json.loads(text)):
        decimals = repr(value).split(".")[1] if "." in repr(value) else ""
        assert len(decimals) <= (2 if key in MONEY_KEYS else 6), (key, value)
    assert "€" not in text  # no locale formatting in JSON
    doc = json.loads(text)
    assert doc["schema_version"] == 2
    assert isinstance(doc["lifetime"]["historic_cltv"], str)


def test_html_writes_money_and_counts_in_the_locale(demo_report: Path, tmp_path: Path) -> None:
    doc = _metrics(demo_report)
    html = (demo_report / "report.html").read_text()
    assert f"{doc['totals']['customers']:,} customers" in html
    assert "€" in html  # the demo shop's orders are in EUR
    german = _report(
        demo_report / "data" / "orders.csv", tmp_path / "de", "--no-models", "--locale", "de_DE"
    )
    html = (tmp_path / "de" / "report.html").read_text()
    customers = f"{german['totals']['customers']:,}".replace(",", ".")
    assert f"{customers} customers" in html
    assert re.search(r"\d,\d\d\xa0€", html)


def test_the_first_screen_says_which_retention_rate_to_use(demo_report: Path) -> None:
    html = (demo_report / "report.html").read_text()
    first = html[html.index('id="where-we-stand"') : html.index("<h2>Goal</h2>")]
    assert "Which retention rate to use?" in first
    assert "Came back" in first


def test_cli_metrics_prints_rounded_numbers(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,ordered_at,amount\n1,a,2025-06-01,10.00\n2,a,2025-06-02,10.00\n"
        "3,b,2025-06-03,10.00\n4,c,2025-06-04,10.00\n"
    )
    result = runner.invoke(
        app,
        ["metrics", str(orders), "--start", "2025-06-01", "--end", "2025-07-01"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "33.3%" in result.output  # repeat purchase rate 1 / 3
    assert "1.33" in result.output  # 4 purchases / 3 customers
    assert "33.333" not in result.output
    assert "1.333" not in result.output


# --- thin data ---------------------------------------------------------------------------


ONE_MONTH = "order_id,customer_id,ordered_at,amount\n" + "".join(
    f"{i},c{i % 25},2024-03-{1 + i % 15:02d} 12:00,{10 + i}.00\n" for i in range(60)
)


@pytest.mark.parametrize("period", ["month", "quarter", "year"])
def test_a_file_within_one_month_still_gets_a_report(tmp_path: Path, period: str) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(ONE_MONTH)
    doc = _report(orders, tmp_path / "out", "--period", period)
    assert doc["partial_period"] is True
    assert doc["current_period"]["orders"] == 60
    html = (tmp_path / "out" / "report.html").read_text()
    assert "(so far)" in html
    assert "A trend needs at least two" in html
    assert 'id="fig-trend"' not in html
    # 25 customers are far too few for a forecast: a sentence, no numbers
    assert "No forecasts for this shop yet" in html
    assert doc["future"]["reliability"]["level"] == "hidden"
    assert 'id="fig-p_alive"' not in html
    assert not (tmp_path / "out" / "contacts" / "at-risk-customers.csv").exists()
    lists = list((tmp_path / "out" / "contacts").glob("*.csv"))
    assert lists  # the segments still download, without forecasts nobody should trust
    assert all("p_alive" not in _rows(path)[0] for path in lists)
    assert "nobody to retain yet" in html


def test_as_of_in_the_first_year_notes_that_nobody_can_lapse(demo_report: Path) -> None:
    shop = Shop.from_files([demo_report / "data" / "orders.csv"])
    data = compute_report(shop, as_of=date(2024, 6, 1), models=False)
    assert data.current.end <= data.lapse_possible_from
    from regulars.report.render import render_html

    html = render_html(data, None, "t", {})
    assert "First year of data: nobody can have lapsed before" in html


def test_totals_revenue_is_net_revenue_with_return_documents(demo_report: Path) -> None:
    """docs/metrics.md: net revenue includes the (negative) standalone return documents;
    the report's total is the net revenue of the whole history."""
    from regulars.analytics import net_revenue, purchases

    doc = _metrics(demo_report)
    shop = Shop.from_files([demo_report / "data" / "orders.csv"])
    first, as_of = (
        date.fromisoformat(doc["totals"]["first_order"]),
        date.fromisoformat(doc["as_of"]),
    )
    expected = net_revenue(shop.orders, first, as_of).to_pyarrow().as_py()
    assert Decimal(doc["totals"]["revenue"]) == expected
    bought = purchases(shop.orders).net_amount.sum().to_pyarrow().as_py()
    assert expected < bought  # the demo has till returns: they lower the total
