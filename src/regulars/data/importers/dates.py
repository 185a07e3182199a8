"""Dates and timestamps from text, vectorised, converted to UTC.

Accepted shapes (a time and a UTC offset are optional everywhere)::

    2024-03-05            2024-03-05 14:02      2024-03-05T14:02:11.123Z
    2024/03/05            2024-03-05 14:02:11 +0100   2024-03-05T14:02:11+01:00
    05.03.2024 14:02      05/03/2024  03/05/2024  5/31/2016 0:37  3/5/24 2:02 PM

Year-first dates are always year-month-day. Dotted dates (``05.03.2024``) are day-first.
Slashed or dashed dates with the year last are day-first or month-first: the column's
values decide (a first number above 12 means day-first, a second above 12 month-first),
or ``date_format`` does; when neither can, :class:`AmbiguousDatesError` is raised rather
than guessing. Two-digit years are 20xx.

Values with an offset are converted to UTC and the offset is kept (minutes east of UTC,
:func:`written_offsets`): it is the writer's wall clock, so the analyses can read the
shop's local day from it (:func:`regulars.clock.to_local_time`). Values without one are
wall-clock time in the shop's time zone (ambiguous autumn hours take the first
occurrence, impossible spring hours move forward past the gap). A date alone means local
midnight. The converters return ``(utc, offsets)``; ``offsets`` is None when no value
carried an offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from regulars.data.importers.numbers import Parsed, as_text, is_empty
from regulars.data.schema import UTC_TIMESTAMP
from regulars.limits import EARLIEST, LATEST, MAX_OFFSET_MINUTES

_NAIVE = pa.timestamp("us")
OFFSET = pa.int16()  # minutes east of UTC: −840 … +840
_ISO_OFFSET = r"(?:[Zz]|(?P<zsign>[+-])(?P<zh>\d\d):?(?P<zm>\d\d)?)$"

#: UTC instants and, per value, the offset it was written with (None: no offsets at all).
Converted = tuple[pa.Array, pa.Array | None]

_PATTERN = (
    r"^(?:(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})"
    r"|(?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})[-/.](?P<yy>\d{4}|\d{2}))"
    r"(?:(?:[Tt]|\s+)(?P<hh>\d{1,2}):(?P<mi>\d{2})(?::(?P<ss>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?"
    r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?"
    r"\s*(?P<zone>[Zz]|(?:UTC|GMT)?\s*(?P<zsign>[+-])(?P<zh>\d{1,2})(?::?(?P<zm>\d{2}))?|UTC|GMT)?$"
)


class AmbiguousDatesError(ValueError):
    """A column's dates can be read day-first or month-first, or mix both."""


@dataclass
class DateParts:
    """The regex match of every value, split into its named parts (text)."""

    text: pa.Array
    parts: pa.Array

    def get(self, name: str) -> pa.Array:
        return pc.struct_field(self.parts, name)

    def has(self, name: str) -> pa.Array:
        return pc.fill_null(pc.invert(is_empty(self.get(name))), False)

    @property
    def matched(self) -> pa.Array:
        return pc.is_valid(self.parts)


def split_dates(values: pa.Array) -> DateParts:
    """Match every value against the accepted shapes."""
    text = as_text(values)
    return DateParts(text, pc.extract_regex(text, _PATTERN))


def decide_day_first(parts: DateParts, day_first: bool | None) -> bool:
    """Day-first (True) or month-first (False) for the column's slashed/dashed dates.

    ``day_first`` from the user wins. Raises :class:`AmbiguousDatesError` when the data cannot
    tell (every such date has both numbers ≤ 12 and they differ somewhere) or when it
    contains both readings.
    """
    if day_first is not None:
        return day_first
    year_last = pc.and_(
        parts.has("a"), pc.fill_null(pc.invert(pc.starts_with(parts.get("sep"), ".")), False)
    )
    if not pc.any(year_last).as_py():
        return True
    first = pc.cast(pc.filter(parts.get("a"), year_last), pa.int32())
    second = pc.cast(pc.filter(parts.get("b"), year_last), pa.int32())
    text = pc.filter(parts.text, year_last)
    day_first_seen = pc.greater(first, 12)
    month_first_seen = pc.greater(second, 12)
    if pc.any(day_first_seen).as_py() and pc.any(month_first_seen).as_py():
        example = (_first(text, day_first_seen), _first(text, month_first_seen))
        raise AmbiguousDatesError(
            f"dates mix day-first ({example[0]}) and month-first ({example[1]}) order"
        )
    if pc.any(day_first_seen).as_py():
        return True
    if pc.any(month_first_seen).as_py():
        return False
    differing = pc.not_equal(first, second)
    if not pc.any(differing).as_py():
        return True
    raise AmbiguousDatesError(
        f"dates such as {_first(text, differing)} can be day-first or month-first"
    )


def _first(values: pa.Array, mask: pa.Array) -> str:
    return str(pc.filter(values, mask)[0].as_py())


def _int(parts: DateParts, name: str, default: int = 0) -> pa.Array:
    field = parts.get(name)
    return pc.cast(pc.if_else(is_empty(field), str(default), field), pa.int64())


def _pad(values: pa.Array, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(values, pa.string()), width, "0")


def local_timestamps(parts: DateParts, day_first: bool) -> Parsed:
    """Wall-clock timestamps (no zone applied yet) and the rows that failed to parse."""
    year_first = parts.has("y")
    a, b = _int(parts, "a"), _int(parts, "b")
    dotted = pc.fill_null(pc.starts_with(parts.get("sep"), "."), False)
    a_is_day = pc.or_(dotted, pa.scalar(True)) if day_first else dotted
    day = pc.if_else(year_first, _int(parts, "d"), pc.if_else(a_is_day, a, b))
    month = pc.if_else(year_first, _int(parts, "m"), pc.if_else(a_is_day, b, a))
    # Only a year written with two digits is 20xx: "0001-01-01" is the year 1 (and then
    # out of range), not 2001.
    short_year = pc.fill_null(pc.equal(pc.utf8_length(parts.get("yy")), 2), False)
    year = pc.if_else(year_first, _int(parts, "y"), _int(parts, "yy"))
    year = pc.if_else(short_year, pc.add(year, 2000), year)
    hour = _hour_24(parts)
    text = pc.binary_join_element_wise(
        _pad(year, 4),
        "-",
        _pad(month, 2),
        "-",
        _pad(day, 2),
        " ",
        _pad(hour, 2),
        ":",
        _pad(_int(parts, "mi"), 2),
        ":",
        _pad(_int(parts, "ss"), 2),
        "",
    )
    stamp = pc.strptime(text, format="%Y-%m-%d %H:%M:%S", unit="us", error_is_null=True)
    # strptime rolls 30 February over into March; a real date keeps its day and month.
    real = pc.and_(pc.equal(pc.day(stamp), day), pc.equal(pc.month(stamp), month))
    stamp = pc.if_else(
        pc.fill_null(pc.and_(parts.matched, real), False), stamp, pa.scalar(None, _NAIVE)
    )
    stamp = pc.add(stamp, pc.cast(_microseconds(parts), pa.duration("us")))
    return Parsed(stamp, pc.and_(pc.is_valid(parts.text), pc.is_null(stamp)))


def _hour_24(parts: DateParts) -> pa.Array:
    """Hour on a 24-hour clock; 12 AM is 0, 1 PM is 13; ``13 PM`` becomes invalid (-1)."""
    hour = _int(parts, "hh")
    marker = pc.utf8_lower(pc.fill_null(parts.get("ampm"), ""))
    pm = pc.starts_with(marker, "p")
    am = pc.starts_with(marker, "a")
    twelve_hour = pc.or_(am, pm)
    bad = pc.and_(twelve_hour, pc.or_(pc.greater(hour, 12), pc.equal(hour, 0)))
    hour = pc.if_else(pc.and_(am, pc.equal(hour, 12)), 0, hour)
    hour = pc.if_else(pc.and_(pm, pc.less(hour, 12)), pc.add(hour, 12), hour)
    return pc.if_else(bad, 99, hour)


def _microseconds(parts: DateParts) -> pa.Array:
    fraction = pc.utf8_rpad(pc.fill_null(parts.get("frac"), ""), 6, "0")
    return pc.cast(pc.utf8_slice_codeunits(fraction, 0, 6), pa.int64())


def _offset_minutes(parts: DateParts) -> pa.Array:
    """Minutes east of UTC for values that carry an offset; 0 for Z/UTC/GMT."""
    sign = pc.if_else(pc.starts_with(parts.get("zsign"), "-"), -1, 1)
    minutes = pc.add(pc.multiply(_int(parts, "zh"), 60), _int(parts, "zm"))
    return pc.multiply(sign, minutes)


def _without_offsets(offsets: pa.Array) -> pa.Array | None:
    return None if offsets.null_count == len(offsets) else offsets


def written_offsets(parts: DateParts) -> pa.Array | None:
    """Per value, the offset it was written with (minutes east of UTC; 0 for Z/UTC/GMT),
    null where it had none; None when no value had one."""
    minutes = pc.cast(_offset_minutes(parts), OFFSET)
    return _without_offsets(pc.if_else(parts.has("zone"), minutes, pa.scalar(None, OFFSET)))


def out_of_range(utc: pa.Array, offsets: pa.Array | None) -> pa.Array:
    """Per value, why it is refused (null: fine): outside ``regulars.limits``' instants,
    or written with an offset beyond ±14:00 (``+25:00`` is no zone's wall clock)."""
    early = pa.scalar(EARLIEST, UTC_TIMESTAMP)
    late = pa.scalar(LATEST, UTC_TIMESTAMP)
    outside = pc.or_(pc.less(utc, early), pc.greater_equal(utc, late))
    reason = pc.if_else(
        outside, f"outside the accepted range {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}", None
    )
    if offsets is not None:
        far = pc.greater(pc.abs(offsets), MAX_OFFSET_MINUTES)
        reason = pc.if_else(pc.fill_null(far, False), "UTC offset beyond ±14:00", reason)
    return reason


def to_utc(parts: DateParts, local: pa.Array, timezone: str) -> Converted:
    """UTC instants: subtract the written offset, or read wall-clock time in ``timezone``;
    and the written offsets."""
    zoned = parts.has("zone")
    shift = pc.cast(pc.multiply(_offset_minutes(parts), 60_000_000), pa.duration("us"))
    from_offset = pc.cast(pc.subtract(local, shift), UTC_TIMESTAMP)
    from_zone = pc.cast(
        pc.assume_timezone(local, timezone, ambiguous="earliest", nonexistent="latest"),
        UTC_TIMESTAMP,
    )
    return pc.if_else(zoned, from_offset, from_zone), written_offsets(parts)


def _iso_offsets(text: pa.Array) -> pa.Array:
    """The offsets of ISO 8601 texts that all end with one (``Z``, ``+02:00``, ``-0500``)."""
    tail = DateParts(text, pc.extract_regex(text, _ISO_OFFSET))
    return pc.cast(_offset_minutes(tail), OFFSET)


def quick_to_utc(text: pa.Array, timezone: str) -> Converted | None:
    """ISO 8601 text in one cast (all without offset, or all with one); None otherwise.

    The fast path for exports from software. Arrow's ISO parser rejects impossible
    dates such as 30 February, so nothing slips through that the full parser would refuse.
    """
    # A failing cast is slow; only try it when every value starts like an ISO date.
    if not pc.all(pc.match_substring_regex(text, r"^\d{4}-\d\d-\d\d")).as_py():
        return None
    try:
        local = pc.cast(text, _NAIVE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        try:
            return pc.cast(text, UTC_TIMESTAMP), _iso_offsets(text)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    zoned = pc.assume_timezone(local, timezone, ambiguous="earliest", nonexistent="latest")
    return pc.cast(zoned, UTC_TIMESTAMP), None


def typed_to_utc(values: pa.Array, timezone: str) -> Converted | None:
    """UTC timestamps from a typed (Parquet/XLSX) date or timestamp column, else None.

    A zone-aware column carries its offsets: its zone's offset at each instant."""
    kind = values.type
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:
            utc = pc.cast(values, UTC_TIMESTAMP, safe=False)
            wall = pc.local_timestamp(pc.cast(values, pa.timestamp("us", tz=kind.tz)))
            shift = pc.subtract(wall, pc.cast(utc, _NAIVE))
            return utc, pc.cast(pc.divide(pc.cast(shift, pa.int64()), 60_000_000), OFFSET)
        local = pc.cast(values, _NAIVE, safe=False)
    elif pa.types.is_date(kind):
        local = pc.cast(pc.cast(values, pa.date32()), _NAIVE)
    else:
        return None
    zoned = pc.assume_timezone(local, timezone, ambiguous="earliest", nonexistent="latest")
    return pc.cast(zoned, UTC_TIMESTAMP), None


def typed_to_date(values: pa.Array) -> pa.Array | None:
    """Calendar dates from a typed date or timestamp column (the written date), else None."""
    if pa.types.is_timestamp(values.type):
        return pc.cast(pc.cast(values, _NAIVE, safe=False), pa.date32())
    if pa.types.is_date(values.type):
        return pc.cast(values, pa.date32())
    return None
