"""Date and time parsing: shapes, offsets, time zones, DST and day/month order."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from regulars.data.importers.dates import (
    AmbiguousDatesError,
    decide_day_first,
    local_timestamps,
    quick_to_utc,
    split_dates,
    to_utc,
    written_offsets,
)

UTC = dt.UTC


def utc(values: list[str | None], timezone: str = "UTC", day_first: bool | None = None) -> list:
    parts = split_dates(pa.array(values, pa.string()))
    local = local_timestamps(parts, decide_day_first(parts, day_first))
    return [
        v.replace(tzinfo=UTC) if v else None
        for v in to_utc(parts, local.values, timezone)[0].cast(pa.timestamp("us")).to_pylist()
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05", dt.datetime(2024, 3, 4, 23, 0)),
        ("2024-03-05 14:02", dt.datetime(2024, 3, 5, 13, 2)),
        ("2024-03-05 14:02:11 +0100", dt.datetime(2024, 3, 5, 13, 2, 11)),
        ("2024-03-05T14:02:11Z", dt.datetime(2024, 3, 5, 14, 2, 11)),
        ("2024-03-05T14:02:11.250+01:00", dt.datetime(2024, 3, 5, 13, 2, 11, 250000)),
        ("2024-03-05T14:02:11-05:30", dt.datetime(2024, 3, 5, 19, 32, 11)),
        ("2024-03-05 14:02 UTC", dt.datetime(2024, 3, 5, 14, 2)),
        ("2024/03/05 14:02", dt.datetime(2024, 3, 5, 13, 2)),
        ("05.03.2024", dt.datetime(2024, 3, 4, 23, 0)),
        ("05.03.2024 14:02:11", dt.datetime(2024, 3, 5, 13, 2, 11)),
        ("5.3.24 9:05", dt.datetime(2024, 3, 5, 8, 5)),
    ],
)
def test_shapes_in_berlin(text: str, expected: dt.datetime) -> None:
    assert utc([text], "Europe/Berlin") == [expected.replace(tzinfo=UTC)]


def test_twelve_hour_clock() -> None:
    values = ["3/5/2024 2:15 PM", "12/31/2024 12:05 am", "1/2/2024 12:00 PM"]
    assert utc(values) == [
        dt.datetime(2024, 3, 5, 14, 15, tzinfo=UTC),
        dt.datetime(2024, 12, 31, 0, 5, tzinfo=UTC),
        dt.datetime(2024, 1, 2, 12, 0, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    "text", ["2024-02-30", "2023-02-29", "2024-13-01", "2024-01-01 24:00", "yesterday", "13 PM"]
)
def test_impossible_dates_are_invalid(text: str) -> None:
    parts = split_dates(pa.array([text]))
    assert local_timestamps(parts, True).invalid.to_pylist() == [True]


def test_leap_day_is_fine() -> None:
    assert utc(["2024-02-29"]) == [dt.datetime(2024, 2, 29, tzinfo=UTC)]


def test_dst_gap_and_overlap_in_berlin() -> None:
    # 02:30 does not exist on 31 March 2024 (moved to the end of the gap, 03:00 CEST);
    # 02:30 exists twice on 27 October 2024 (the first, CEST, wins).
    assert utc(["2024-03-31 02:30", "2024-10-27 02:30"], "Europe/Berlin") == [
        dt.datetime(2024, 3, 31, 1, 0, tzinfo=UTC),
        dt.datetime(2024, 10, 27, 0, 30, tzinfo=UTC),
    ]


def test_day_first_detected_from_a_day_above_twelve() -> None:
    parts = split_dates(pa.array(["03/05/2024", "25/12/2024"]))
    assert decide_day_first(parts, None) is True


def test_month_first_detected_from_a_second_number_above_twelve() -> None:
    parts = split_dates(pa.array(["03/05/2024", "12/25/2024"]))
    assert decide_day_first(parts, None) is False


def test_ambiguous_column_refuses_to_guess() -> None:
    parts = split_dates(pa.array(["03/05/2024", "04/06/2024"]))
    with pytest.raises(AmbiguousDatesError, match="03/05/2024"):
        decide_day_first(parts, None)
    assert utc(["03/05/2024"], day_first=True) == [dt.datetime(2024, 5, 3, tzinfo=UTC)]
    assert utc(["03/05/2024"], day_first=False) == [dt.datetime(2024, 3, 5, tzinfo=UTC)]


def test_same_day_and_month_is_not_ambiguous() -> None:
    parts = split_dates(pa.array(["01/01/2024", "07/07/2024"]))
    assert decide_day_first(parts, None) is True


def test_mixed_orders_are_refused() -> None:
    parts = split_dates(pa.array(["25/03/2024", "03/25/2024"]))
    with pytest.raises(AmbiguousDatesError, match="mix"):
        decide_day_first(parts, None)


def test_quick_path_reads_iso_and_refuses_the_rest() -> None:
    quick = quick_to_utc(pa.array(["2024-01-05 10:00:00", "2024-01-06"]), "Europe/Berlin")
    assert quick is not None
    utc, offsets = quick
    assert utc.cast(pa.timestamp("us")).to_pylist() == [
        dt.datetime(2024, 1, 5, 9, 0),
        dt.datetime(2024, 1, 5, 23, 0),
    ]
    assert offsets is None  # written without an offset
    assert quick_to_utc(pa.array(["2024-02-30"]), "UTC") is None
    assert quick_to_utc(pa.array(["05.03.2024"]), "UTC") is None


def test_quick_path_keeps_the_written_offsets() -> None:
    quick = quick_to_utc(
        pa.array(["2024-03-01T22:15:00-05:00", "2024-07-01T08:00:00+0200", "2024-07-01T08:00Z"]),
        "UTC",
    )
    assert quick is not None
    utc, offsets = quick
    assert offsets is not None
    assert offsets.to_pylist() == [-300, 120, 0]
    assert utc.cast(pa.timestamp("us")).to_pylist()[0] == dt.datetime(2024, 3, 2, 3, 15)


def test_full_parser_keeps_offsets_and_marks_the_naive_values() -> None:
    parts = split_dates(pa.array(["2024-03-01 22:15:00 -0500", "01.03.2024 22:15", None]))
    local = local_timestamps(parts, True)
    utc, offsets = to_utc(parts, local.values, "UTC")
    assert offsets is not None
    assert offsets.to_pylist() == [-300, None, None]
    assert utc.cast(pa.timestamp("us")).to_pylist()[:2] == [
        dt.datetime(2024, 3, 2, 3, 15),
        dt.datetime(2024, 3, 1, 22, 15),
    ]
    assert written_offsets(split_dates(pa.array(["2024-03-01"]))) is None
