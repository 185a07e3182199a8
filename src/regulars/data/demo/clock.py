"""The shop's rhythm: when during the day, week and year people buy.

Model. On an hourly grid over the window, the relative intensity of shopping is

    h(t) = season(day of year) · event(t) · weekday(t) · hour(t),   normalised to mean 1,

all evaluated on the shop's local wall clock (DST included). ``season`` interpolates
mid-month factors with a November/December peak, ``event`` lifts the Black Friday
weekend (Friday to Cyber Monday) and damps Christmas and New Year.

Every customer's purchases form a point process with intensity λ·h(t). By the
time-change theorem this is the same as a process with constant rate λ in
*operational time* Λ(t) = ∫₀ᵗ h(s) ds (in years): customers are simulated in Λ and each
event is mapped back to the calendar with t = Λ⁻¹(τ) (linear within an hour). New
customers arrive with intensity h(t)·exp(g·t); arrival times are
drawn by inverting the normalised cumulative of that intensity (g = ln(1 + annual growth)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from regulars.data.demo.params import DemoParams

SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86_400
HOURS_PER_YEAR = 365.25 * 24

# Mid-month factors, January..December, placed on the 15th (day of year, 0-based).
_MONTH_FACTORS = np.array([0.88, 0.82, 0.90, 0.92, 0.94, 0.88, 0.85, 0.86, 0.95, 1.0, 1.4, 1.75])
_MONTH_MIDS = np.array([14, 45, 73, 104, 134, 165, 195, 226, 257, 287, 318, 348], dtype=float)
# Monday..Sunday.
_WEEKDAY_FACTORS = np.array([1.08, 1.02, 1.0, 1.0, 0.95, 1.0, 0.95])
# Local hour 0..23: quiet nights, a lunch bump and an evening peak (online).
_HOUR_FACTORS = np.array(
    [0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.2, 0.4, 0.7, 0.95, 1.1, 1.2,
     1.25, 1.2, 1.15, 1.15, 1.2, 1.3, 1.45, 1.6, 1.7, 1.5, 1.0, 0.45]
)  # fmt: skip
_BLACK_FRIDAY_FACTOR = 1.8
_HOLIDAY_FACTOR = 0.3  # Christmas Eve afternoon to Boxing Day
_NEW_YEAR_FACTOR = 0.5
_STORE_OPENS, _STORE_CLOSES = 9, 20  # Monday to Saturday, local time


def epoch_seconds(day: date) -> int:
    """Seconds since 1970-01-01 UTC at 00:00 UTC of ``day``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class LocalCalendar:
    """Local wall-clock features of each hour of the grid."""

    days: NDArray[np.int64]  # local days since 1970-01-01
    hour: NDArray[np.int64]
    weekday: NDArray[np.int64]  # Monday = 0
    month: NDArray[np.int64]  # January = 0
    day_of_month: NDArray[np.int64]  # 1-based
    day_of_year: NDArray[np.int64]  # 0-based
    utc_offset_s: NDArray[np.int64]


def local_calendar(start_s: int, n_hours: int, timezone: str) -> LocalCalendar:
    """Local time of each hour ``start_s + i·3600`` in ``timezone`` (tz database)."""
    utc_s = start_s + SECONDS_PER_HOUR * np.arange(n_hours, dtype=np.int64)
    zoned = pa.array(utc_s, pa.timestamp("s", tz="UTC")).cast(pa.timestamp("s", tz=timezone))
    local_s = np.asarray(pc.local_timestamp(zoned).cast(pa.int64()), dtype=np.int64)
    days = local_s // SECONDS_PER_DAY
    dates = days.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    return LocalCalendar(
        days=days,
        hour=(local_s % SECONDS_PER_DAY) // SECONDS_PER_HOUR,
        weekday=(days + 3) % 7,  # 1970-01-01 was a Thursday
        month=months.astype(np.int64) % 12,
        day_of_month=(dates - months.astype("datetime64[D]")).astype(np.int64) + 1,
        day_of_year=(dates - dates.astype("datetime64[Y]").astype("datetime64[D]")).astype(
            np.int64
        ),
        utc_offset_s=local_s - utc_s,
    )


def _black_friday_weekend(cal: LocalCalendar) -> NDArray[np.bool_]:
    """Hours from Black Friday (4th Friday of November) to Cyber Monday."""
    years = cal.days.astype("datetime64[D]").astype("datetime64[Y]")
    nov1 = (years.astype("datetime64[M]") + 10).astype("datetime64[D]").astype(np.int64)
    first_friday = nov1 + (4 - (nov1 + 3) % 7) % 7
    since = cal.days - (first_friday + 21)
    return (since >= 0) & (since <= 3)


def _holiday_closure(cal: LocalCalendar) -> NDArray[np.bool_]:
    """Christmas Eve from 14:00 through Boxing Day: the shop is closed, the web quiet."""
    december = cal.month == 11
    eve = december & (cal.day_of_month == 24) & (cal.hour >= 14)
    closed = eve | (december & ((cal.day_of_month == 25) | (cal.day_of_month == 26)))
    return np.asarray(closed, dtype=np.bool_)


def _new_year(cal: LocalCalendar) -> NDArray[np.bool_]:
    """New Year's Eve afternoon and New Year's Day."""
    eve = (cal.month == 11) & (cal.day_of_month == 31) & (cal.hour >= 14)
    return np.asarray(eve | ((cal.month == 0) & (cal.day_of_month == 1)), dtype=np.bool_)


def shopping_intensity(cal: LocalCalendar) -> NDArray[np.float64]:
    """h(t) per hour, normalised to mean 1 over the grid."""
    season = np.interp(cal.day_of_year + cal.hour / 24.0, _MONTH_MIDS, _MONTH_FACTORS, period=365.0)
    event = np.ones_like(season)
    event[_black_friday_weekend(cal)] = _BLACK_FRIDAY_FACTOR
    event[_holiday_closure(cal)] = _HOLIDAY_FACTOR
    event[_new_year(cal)] = _NEW_YEAR_FACTOR
    h = season * event * _WEEKDAY_FACTORS[cal.weekday] * _HOUR_FACTORS[cal.hour]
    return np.asarray(h / h.mean(), dtype=np.float64)


def store_hours(cal: LocalCalendar) -> NDArray[np.bool_]:
    """Whether the bricks-and-mortar store is open (Mon–Sat 9–20, closed on holidays)."""
    open_hour = (cal.weekday < 6) & (cal.hour >= _STORE_OPENS) & (cal.hour < _STORE_CLOSES)
    return np.asarray(open_hour & ~_holiday_closure(cal) & ~_new_year(cal))


def _cumulative(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Cumulative sum at the hour edges: 0, v₀, v₀+v₁, …"""
    return np.concatenate(([0.0], np.cumsum(values)))


@dataclass(frozen=True)
class ShopClock:
    """Maps between calendar seconds (relative to ``start_s``) and operational years."""

    start_s: int
    end_s: int
    calendar: LocalCalendar
    store_open: NDArray[np.bool_]
    edges_s: NDArray[np.float64]  # hour edges, seconds since start
    operational_edges: NDArray[np.float64]  # Λ at the edges, years
    acquisition_edges: NDArray[np.float64]  # normalised cumulative acquisition, 0..1

    @property
    def span_s(self) -> int:
        return self.end_s - self.start_s

    @property
    def operational_end(self) -> float:
        return float(self.operational_edges[-1])

    def to_operational(self, rel_s: NDArray[np.float64]) -> NDArray[np.float64]:
        """Λ(t) in years for calendar seconds since start."""
        return np.interp(rel_s, self.edges_s, self.operational_edges)

    def to_calendar(self, tau: NDArray[np.float64]) -> NDArray[np.float64]:
        """Λ⁻¹(τ): calendar seconds since start for operational years."""
        return np.interp(tau, self.operational_edges, self.edges_s)

    def draw_arrivals(self, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        """``n`` i.i.d. first-purchase times (seconds since start), growth and rhythm included."""
        return np.interp(rng.random(n), self.acquisition_edges, self.edges_s)

    def hour_index(self, rel_s: NDArray[np.integer[Any]]) -> NDArray[np.int64]:
        hour = np.asarray(rel_s, dtype=np.int64) // SECONDS_PER_HOUR
        return np.minimum(hour, len(self.store_open) - 1)

    def is_store_open(self, rel_s: NDArray[np.integer[Any]]) -> NDArray[np.bool_]:
        return np.asarray(self.store_open[self.hour_index(rel_s)], dtype=np.bool_)

    def utc_offset_s(self, rel_s: NDArray[np.integer[Any]]) -> NDArray[np.int64]:
        return np.asarray(self.calendar.utc_offset_s[self.hour_index(rel_s)], dtype=np.int64)


def build_clock(start: date, end: date, params: DemoParams) -> ShopClock:
    """The clock of a shop that opens at ``start`` 00:00 UTC and is observed until ``end``."""
    start_s, end_s = epoch_seconds(start), epoch_seconds(end)
    n_hours = (end_s - start_s) // SECONDS_PER_HOUR
    cal = local_calendar(start_s, n_hours, params.timezone)
    h = shopping_intensity(cal)
    years = np.arange(n_hours) / HOURS_PER_YEAR
    acquisition = _cumulative(h * np.exp(np.log1p(params.growth_per_year) * years))
    return ShopClock(
        start_s=start_s,
        end_s=end_s,
        calendar=cal,
        store_open=store_hours(cal),
        edges_s=np.arange(n_hours + 1, dtype=np.float64) * SECONDS_PER_HOUR,
        operational_edges=_cumulative(h) / HOURS_PER_YEAR,
        acquisition_edges=acquisition / acquisition[-1],
    )
