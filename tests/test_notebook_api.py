"""The README's notebook example, run as written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

ORDERS = """order_id,customer_id,ordered_at,amount
1,alice,2025-01-10,10.00
2,bob,2025-02-10,20.00
3,alice,2025-06-05,30.00
4,carol,2025-06-20,40.00
"""


def test_shop_gives_dataframes_and_ibis_tables(tmp_path: Path) -> None:
    from regulars import Shop

    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    shop = Shop.from_files([path])
    rfm = shop.rfm().to_pandas()
    assert sorted(rfm.customer_id) == ["alice", "bob", "carol"]
    cohorts = shop.cohorts("month").to_pyarrow()
    assert cohorts.num_rows > 0
    kpis = shop.kpis(date(2025, 6, 1), date(2025, 7, 1))
    # S = {alice, bob}; alice bought again in June, both still active at the end.
    assert kpis.window.customers_start == 2
    assert kpis.window.crr == 100.0
    # An Ibis table keeps composing before anything runs.
    champions = shop.customers().filter(lambda t: t.orders >= 2).count().execute()
    assert champions == 1
