"""Which local day an order falls on (regulars.clock): the shop's time zone when set,
else the offset the time was written with, else UTC — and the report says which."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from regulars import Shop
from regulars.clock import LocalDays, format_offset
from regulars.config import Settings

# A New York shop's export: times carry the shop's offset (EST −05:00, EDT −04:00).
NEW_YORK = """order_id,customer_id,ordered_at,amount
1,ann,2024-02-29 22:15:00 -0500,10.00
2,bob,2024-03-31 23:30:00 -0400,20.00
3,cid,2024-04-01 08:00:00 -0400,30.00
"""


def _days(shop: Shop) -> list[date]:
    table = shop.orders.order_by("order_id").to_pyarrow()
    return [t.date() for t in table.column("ordered_at").to_pylist()]


def _write(tmp_path: Path, text: str, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_offsets_give_the_shops_own_day_without_a_time_zone(tmp_path: Path) -> None:
    shop = Shop.from_files([_write(tmp_path, NEW_YORK)])
    # The written wall clock: 29 February and 31 March, as the shop's staff saw them.
    assert _days(shop) == [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 1)]
    assert shop.kpis(date(2024, 3, 1), date(2024, 4, 1)).orders == 1  # bob only
    days = shop.local_days
    assert days is not None
    assert days.timezone is None
    assert days.offsets == (-300, -240)
    assert (days.orders_with_offset, days.orders_without_offset) == (3, 0)
    assert not days.assumed_utc
    assert days.offset_labels() == ["UTC−05:00", "UTC−04:00"]


def test_a_time_zone_set_once_wins_over_the_offsets(tmp_path: Path) -> None:
    path = _write(tmp_path, NEW_YORK)
    utc = Shop.from_files([path], settings=Settings(timezone="UTC"))
    # Read on the UTC clock, ann's and bob's orders move to the next day and month.
    assert _days(utc) == [date(2024, 3, 1), date(2024, 4, 1), date(2024, 4, 1)]
    assert utc.local_days == LocalDays("UTC")
    berlin = Shop.from_files([path], settings=Settings(timezone="Europe/Berlin"))
    assert _days(berlin) == [date(2024, 3, 1), date(2024, 4, 1), date(2024, 4, 1)]


def test_times_without_an_offset_are_utc_and_the_shop_says_so(tmp_path: Path) -> None:
    mixed = NEW_YORK + "4,dan,2024-04-02 23:59:00,40.00\n"
    shop = Shop.from_files([_write(tmp_path, mixed)])
    assert _days(shop)[-1] == date(2024, 4, 2)
    days = shop.local_days
    assert days is not None
    assert (days.orders_with_offset, days.orders_without_offset) == (3, 1)
    assert days.assumed_utc


def test_zoned_parquet_timestamps_keep_their_zone(tmp_path: Path) -> None:
    stamps = [datetime(2024, 3, 1, 3, 15), datetime(2024, 7, 1, 3, 15)]  # UTC
    table = pa.table(
        {
            "order_id": ["1", "2"],
            "customer_id": ["ann", "bob"],
            "ordered_at": pa.array(stamps, pa.timestamp("us", tz="UTC")).cast(
                pa.timestamp("us", tz="America/New_York")
            ),
            "amount": pa.array([Decimal("10.00"), Decimal("20.00")], pa.decimal128(18, 2)),
        }
    )
    pq.write_table(table, tmp_path / "orders.parquet")
    shop = Shop.from_files([tmp_path / "orders.parquet"])
    assert _days(shop) == [date(2024, 2, 29), date(2024, 6, 30)]
    assert shop.local_days is not None
    assert shop.local_days.offsets == (-300, -240)


def test_only_a_time_zone_the_user_set_is_the_shops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REGULARS_TIMEZONE", raising=False)
    monkeypatch.setenv("REGULARS_CONFIG", str(tmp_path / "none.toml"))
    assert Settings().shop_timezone is None
    assert Settings().timezone == "UTC"  # what jobs and schedules use by default
    assert Settings(timezone="UTC").shop_timezone == "UTC"
    monkeypatch.setenv("REGULARS_TIMEZONE", "America/New_York")
    assert Settings().shop_timezone == "America/New_York"
    monkeypatch.delenv("REGULARS_TIMEZONE")
    toml = tmp_path / "regulars.toml"
    toml.write_text('timezone = "Asia/Tokyo"\n', encoding="utf-8")
    monkeypatch.setenv("REGULARS_CONFIG", str(toml))
    assert Settings().shop_timezone == "Asia/Tokyo"


def test_format_offset() -> None:
    assert [format_offset(m) for m in (0, 60, -330, 345)] == [
        "UTC",
        "UTC+01:00",
        "UTC−05:30",
        "UTC+05:45",
    ]


def _regulars(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("regulars")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False, env=env)


@pytest.mark.parametrize("where", ["option", "config"])
def test_a_time_zone_that_does_not_exist_is_a_one_line_error(tmp_path: Path, where: str) -> None:
    orders = _write(tmp_path, NEW_YORK)
    args = ["report", str(orders), "--out", str(tmp_path / "out"), "--no-models", "--quiet"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    if where == "option":
        args += ["--timezone", "Mars/Base"]
        env["REGULARS_CONFIG"] = str(tmp_path / "none.toml")
    else:
        toml = tmp_path / "regulars.toml"
        toml.write_text('timezone = "Mars/Base"\n', encoding="utf-8")
        env["REGULARS_CONFIG"] = str(toml)
    proc = _regulars(*args, env=env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Mars/Base" in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
