"""One file → typed canonical columns, one row per input row, plus the problems found.

Nothing is grouped or de-duplicated here (see :mod:`.assemble`); this module only reads
values: it combines alternative columns, parses money, numbers and dates column-wise,
maps statuses, normalises identities and records every value it could not read.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from regulars.data.importers import dates, numbers, rejects
from regulars.data.importers.formats import CANCELLED, FileSpec
from regulars.data.importers.identity import (
    clean_text,
    normalize_customer_id,
    normalize_email,
    normalize_phone,
)
from regulars.data.importers.mapping import MAP_SYNTAX_HINT
from regulars.data.importers.readers import RawFile
from regulars.data.schema import LINE_FIELDS, MONEY, UTC_TIMESTAMP
from regulars.errors import InputFileError
from regulars.limits import EARLIEST, LATEST, MAX_MONEY

STAGE_SCHEMA = pa.schema(
    [
        ("_file", pa.int32()),
        ("_row", pa.int64()),
        ("_seq", pa.int64()),
        ("_line_level", pa.bool_()),
        ("_has_line", pa.bool_()),
        ("order_id", pa.string()),
        ("customer_id", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("name", pa.string()),
        ("birthday", pa.date32()),
        ("created_at", UTC_TIMESTAMP),
        ("acquisition_channel", pa.string()),
        ("ordered_at", UTC_TIMESTAMP),
        ("_utc_offset", dates.OFFSET),  # the offset ordered_at was written with (minutes)
        ("amount", MONEY),
        ("refunded_amount", MONEY),
        ("status", pa.string()),
        ("currency", pa.string()),
        ("channel", pa.string()),
        ("sku", pa.string()),
        ("product_name", pa.string()),
        ("category", pa.string()),
        ("quantity", pa.int64()),
        ("unit_price", MONEY),
        ("line_amount", MONEY),
    ]
)

CUSTOMER_ATTRIBUTES = ("email", "phone", "name", "birthday", "acquisition_channel", "created_at")
_UNITS = pa.decimal128(19, 0)  # every int64 fits, so quantity × price stays exact
_MONEY_LIMIT = Decimal("1e16")
_DATE_HELP = "recognised: 2024-03-05 14:02, 2024-03-05T14:02:11Z, 05.03.2024, 03/05/2024"


@dataclass
class Options:
    """Reading options after precedence between arguments and the mapping was applied."""

    timezone: str
    decimal: str | None
    day_first: bool | None


@dataclass
class Stage:
    """One file's rows in canonical types, and what was wrong with them."""

    rows: pa.Table
    problems: pa.Table
    has_customer_attributes: bool


#: Fields with few distinct values: their text is cleaned once per distinct value.
_FEW_VALUES = frozenset({"status", "currency", "channel", "acquisition_channel"})


@dataclass
class _Source:
    """A field's text (alternative columns combined) and, per row, which column it came from.

    ``column`` is a header name when a single column feeds the field (the origin of every
    non-empty value, worked out only for the rows with a problem); ``encoded`` is the same
    text dictionary-encoded, when the field has few distinct values.
    """

    values: pa.Array
    column: pa.Array | str
    encoded: pa.DictionaryArray | None = None

    def origin(self, mask: pa.Array, values: pa.Array) -> pa.Array:
        """Per masked row, the column its value came from (``values`` already masked)."""
        if isinstance(self.column, str):
            label = pa.scalar(self.column, pa.string())
            return pc.if_else(pc.is_valid(values), label, pa.scalar(None, pa.string()))
        return pc.filter(self.column, mask)


class _Builder:
    """Collects parsed columns and problems for one file."""

    def __init__(self, raw: RawFile, spec: FileSpec, file_index: int, options: Options) -> None:
        self.raw = raw
        self.spec = spec
        self.file_index = file_index
        self.options = options
        self.columns: dict[str, pa.Array] = {}
        self.offsets: dict[str, pa.Array] = {}  # written UTC offsets of timestamp fields
        self._sources: dict[str, _Source | None] = {}
        self.found: list[pa.Table] = []
        self.count = raw.table.num_rows

    # ----------------------------------------------------------------- sources
    def source(self, name: str) -> _Source | None:
        """The field's text, or None when no column feeds it (computed once per field)."""
        if name not in self._sources:
            self._sources[name] = self._combined(name)
        return self._sources[name]

    def _combined(self, name: str) -> _Source | None:
        headers = self.spec.sources.get(name)
        if not headers:
            return None
        if len(headers) == 1:
            column = self.raw.table.column(headers[0])
            if name in _FEW_VALUES and _is_text(column.type):
                encoded = _text_per_distinct(column)
                return _Source(pc.take(encoded.dictionary, encoded.indices), headers[0], encoded)
            return _Source(numbers.as_text(column.combine_chunks()), headers[0])
        values: pa.Array | None = None
        origin: pa.Array | None = None
        for header in headers:
            text = numbers.as_text(self.raw.table.column(header).combine_chunks())
            if values is None:
                values, origin = text, pc.if_else(pc.is_valid(text), header, None)
                continue
            fill = pc.and_(pc.is_null(values), pc.is_valid(text))
            values = pc.coalesce(values, text)
            origin = pc.if_else(fill, header, origin)
        assert values is not None
        assert origin is not None
        return _Source(values, pc.cast(origin, pa.string()))

    def typed(self, name: str) -> pa.Array | None:
        """The single column feeding ``name`` with its own Arrow type (Parquet/XLSX)."""
        headers = self.spec.sources.get(name, ())
        if len(headers) != 1:
            return None
        return self.raw.table.column(headers[0]).combine_chunks()

    def problem(self, name: str, mask: pa.Array, source: _Source, reason: Any, scope: str) -> None:
        """Record a problem for every row where ``mask`` is true."""
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            return
        value = pc.filter(source.values, mask)
        self.found.append(
            rejects.problems(
                self.file_index,
                pc.filter(pa.array(self.raw.rows), mask),
                field=name,
                column=source.origin(mask, value),
                value=value,
                reason=pc.filter(reason, mask) if isinstance(reason, pa.Array) else reason,
                scope=scope,
            )
        )

    # ---------------------------------------------------------------- fields
    def text_field(self, name: str, normalize: Any = numbers.as_text) -> pa.Array:
        source = self.source(name)
        if source is None:
            result = pa.nulls(self.count, pa.string())
        elif source.encoded is not None:  # normalise each distinct value once
            result = pc.take(normalize(source.encoded.dictionary), source.encoded.indices)
        else:
            result = normalize(source.values)
        self.columns[name] = result
        return result

    def typed_money(self, name: str) -> pa.Array | None:
        """A decimal or integer column (Parquet/XLSX) as money, without a detour through
        text; None for text and float columns, which are parsed (floats need rounding)."""
        typed = self.typed(name)
        if typed is None or not (
            pa.types.is_decimal(typed.type) or pa.types.is_integer(typed.type)
        ):
            return None
        if pa.types.is_decimal(typed.type) and typed.type.scale > MONEY.scale:
            return None  # more decimals than cents: the text path rounds them properly
        if pa.types.is_integer(typed.type):  # int64 needs 21 digits with the cents
            typed = pc.cast(typed, pa.decimal128(38, MONEY.scale))
        try:
            return pc.cast(typed, MONEY)
        except pa.ArrowInvalid:
            return None  # a value too large for the column: the text path rejects its row

    def money_field(self, name: str, scope: str, reason: str) -> pa.Array:
        source = self.source(name)
        typed = self.typed_money(name)
        if typed is None and source is None:
            self.columns[name] = pa.nulls(self.count, MONEY)
            return self.columns[name]
        if typed is not None:
            values = typed
        else:
            assert source is not None
            parsed = numbers.parse_money(source.values, self.options.decimal)
            self.problem(name, parsed.invalid, source, reason, scope)
            values = parsed.values
        if source is not None:
            values = self._money_in_range(name, values, source, scope)
        self.columns[name] = values
        return values

    def _money_in_range(self, name: str, values: pa.Array, source: _Source, scope: str) -> pa.Array:
        """``values`` with amounts beyond ``MAX_MONEY`` nulled, each one a problem."""
        beyond = pc.fill_null(pc.greater(pc.abs(values), pa.scalar(MAX_MONEY, MONEY)), False)
        if not pc.any(beyond).as_py():
            return values
        reason = f"beyond the accepted amount of ±{MAX_MONEY}"
        self.problem(name, beyond, source, reason, scope)
        return pc.if_else(beyond, pa.scalar(None, values.type), values)

    def timestamp_field(self, name: str, scope: str) -> pa.Array:
        typed = self.typed(name)
        converted = dates.typed_to_utc(typed, self.options.timezone) if typed is not None else None
        source = self.source(name)
        if converted is not None and source is not None:  # a real timestamp column
            return self._timestamps(name, self._in_range(name, converted, source, scope))
        if source is None:
            return self._timestamps(name, (pa.nulls(self.count, UTC_TIMESTAMP), None))
        quick = dates.quick_to_utc(source.values, self.options.timezone)
        if quick is not None:
            return self._timestamps(name, self._in_range(name, quick, source, scope))
        parts = dates.split_dates(source.values)
        day_first = self._day_first(name, parts)
        local = dates.local_timestamps(parts, day_first)
        reason = f"not a date/time we recognise ({_DATE_HELP})"
        if scope == rejects.NOTE:
            reason += "; value ignored, row imported"
        self.problem(name, local.invalid, source, reason, scope)
        converted = dates.to_utc(parts, local.values, self.options.timezone)
        return self._timestamps(name, self._in_range(name, converted, source, scope))

    def _in_range(
        self, name: str, converted: dates.Converted, source: _Source, scope: str
    ) -> dates.Converted:
        """``converted`` with the values outside the limits nulled, each one a problem."""
        utc, offsets = converted
        reason = dates.out_of_range(utc, offsets)
        refused = pc.is_valid(reason)
        if not pc.any(refused).as_py():
            return converted
        if scope == rejects.NOTE:
            reason = pc.binary_join_element_wise(reason, "; value ignored, row imported", "")
        self.problem(name, refused, source, reason, scope)
        return pc.if_else(refused, pa.scalar(None, utc.type), utc), offsets

    def _timestamps(self, name: str, converted: dates.Converted) -> pa.Array:
        utc, offsets = converted
        self.columns[name] = utc
        if offsets is not None:
            self.offsets[name] = offsets
        return utc

    def date_field(self, name: str) -> pa.Array:
        source = self.source(name)
        typed = self.typed(name)
        converted = dates.typed_to_date(typed) if typed is not None else None
        if converted is not None or source is None:
            result = converted if converted is not None else pa.nulls(self.count, pa.date32())
            self.columns[name] = result
            return result
        parts = dates.split_dates(source.values)
        local = dates.local_timestamps(parts, self._day_first(name, parts))
        reason = f"not a date we recognise ({_DATE_HELP}); value ignored, row imported"
        self.problem(name, local.invalid, source, reason, rejects.NOTE)
        utc = pc.assume_timezone(local.values, "UTC")
        outside = pc.fill_null(pc.is_valid(dates.out_of_range(utc, None)), False)
        reason = f"outside the accepted range {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}"
        self.problem(name, outside, source, f"{reason}; value ignored, row imported", rejects.NOTE)
        local = pc.if_else(outside, pa.scalar(None, local.values.type), local.values)
        self.columns[name] = pc.cast(local, pa.date32())
        return self.columns[name]

    def _day_first(self, name: str, parts: dates.DateParts) -> bool:
        try:
            return dates.decide_day_first(parts, self.options.day_first)
        except dates.AmbiguousDatesError as exc:
            raise InputFileError(
                self.raw.path,
                f"column {self.spec.label(name)}: {exc}. Set the date format, e.g. "
                '--map "date_format=DD/MM/YYYY" (or MM/DD/YYYY), or date_format in the '
                "mapping file",
            ) from None


def stage_file(raw: RawFile, spec: FileSpec, file_index: int, options: Options) -> Stage:
    """Parse one file into :data:`STAGE_SCHEMA` rows and problems."""
    build = _Builder(raw, spec, file_index, options)
    _order_fields(build)
    _customer_fields(build)
    _line_fields(build)
    _refuse_unreadable_columns(build)
    rows = _assemble_rows(build)
    has_attributes = any(n in spec.sources for n in CUSTOMER_ATTRIBUTES) or bool(spec.first_name)
    found = [*build.found, _ragged_problems(raw, file_index)]
    return Stage(rows, rejects.concat_problems(found), has_attributes)


def _order_fields(build: _Builder) -> None:
    build.text_field("order_id")
    build.text_field("customer_id", normalize_customer_id)
    build.timestamp_field("ordered_at", rejects.ORDER)
    build.money_field("amount", rejects.ORDER, "not a valid amount")
    refunded = build.money_field("refunded_amount", rejects.ORDER, "not a valid refunded amount")
    # Some exports write refunds as negative numbers; a refund is stored as a positive part.
    refunded = build.columns["refunded_amount"] = pc.abs(refunded)
    source = build.source("refunded_amount")
    if source is not None:
        ceiling = pc.max_element_wise(build.columns["amount"], pa.scalar(0, MONEY))
        over = pc.greater(refunded, ceiling)
        reason = "the refund is more than the order's amount"
        build.problem("refunded_amount", over, source, reason, rejects.ORDER)
    build.text_field("currency", lambda v: pc.utf8_upper(numbers.as_text(v)))
    # Currency symbols only live in text amounts; typed amounts carry none.
    if "currency" not in build.spec.sources and build.typed_money("amount") is None:
        source = build.source("amount")
        if source is not None:
            build.columns["currency"] = numbers.currency_hint(source.values)
    build.text_field("channel")
    _status(build)


def _status(build: _Builder) -> None:
    """Canonical status from the status column and any 'cancelled at' column."""
    rule = build.spec.status
    source = build.source("status")
    status = pa.nulls(build.count, pa.string())
    if source is not None:
        # Statuses have few distinct values: map those, then spread them over the rows.
        encoded = source.encoded
        key = pc.utf8_lower(encoded.dictionary if encoded is not None else source.values)
        key = pc.replace_substring_regex(key, r"^wc-", "")
        key = pc.replace_substring_regex(key, r"[\s\-_]+", "_")
        mapped = pc.take(
            pa.array(list(rule.values.values()), pa.string()),
            pc.index_in(key, pa.array(list(rule.values.keys()), pa.string())),
        )
        unknown = pc.and_(pc.is_valid(key), pc.is_null(mapped))
        if encoded is not None:
            mapped = pc.take(mapped, encoded.indices)
            unknown = pc.fill_null(pc.take(unknown, encoded.indices), False)
        if rule.default is None:
            accepted = "completed, refunded, partially_refunded or cancelled"
            build.problem(
                "status", unknown, source, f"unknown status (use {accepted})", rejects.ORDER
            )
        else:
            mapped = pc.if_else(unknown, rule.default, mapped)
        status = mapped
    for header in build.spec.cancelled:
        cancelled = pc.is_valid(numbers.as_text(build.raw.table.column(header).combine_chunks()))
        status = pc.if_else(cancelled, CANCELLED, status)
    build.columns["status"] = pc.cast(status, pa.string())


def _customer_fields(build: _Builder) -> None:
    for name, normalize in (("email", normalize_email), ("phone", normalize_phone)):
        value = build.text_field(name, normalize)
        source = build.source(name)
        if source is not None:
            ignored = pc.and_(pc.is_valid(source.values), pc.is_null(value))
            build.problem(name, ignored, source, f"not a valid {name}; value ignored", rejects.NOTE)
    name = build.text_field("name", clean_text)
    build.columns["name"] = pc.coalesce(name, _joined_name(build))
    build.date_field("birthday")
    build.timestamp_field("created_at", rejects.NOTE)
    build.text_field("acquisition_channel")


def _joined_name(build: _Builder) -> pa.Array:
    """``First Last`` from separate first/last name columns, when the file has them."""
    parts = [
        numbers.as_text(build.raw.table.column(h).combine_chunks())
        for h in (build.spec.first_name, build.spec.last_name)
        if h
    ]
    if not parts:
        return pa.nulls(build.count, pa.string())
    joined = pc.binary_join_element_wise(*parts, " ", null_handling="skip")
    return clean_text(joined)


def _line_fields(build: _Builder) -> None:
    """Line items: quantity × unit price less discount, each derivable from the others."""
    build.text_field("sku")
    build.text_field("product_name", clean_text)
    build.text_field("category", clean_text)
    if not build.spec.line_level:
        _no_lines(build)
        return
    line_reason = "not a valid {}; line dropped, order kept"
    source = build.source("quantity")
    quantity = pa.nulls(build.count, pa.int64())
    if source is not None:
        parsed = numbers.parse_integer(source.values)
        build.problem(
            "quantity",
            parsed.invalid,
            source,
            "not a whole number; line dropped, order kept",
            rejects.LINE,
        )
        quantity = parsed.values
    price = build.money_field("unit_price", rejects.LINE, line_reason.format("price"))
    total = build.money_field("line_amount", rejects.LINE, line_reason.format("line amount"))
    discount = build.money_field("line_discount", rejects.LINE, line_reason.format("discount"))
    has_line = _has_line(build)
    quantity = pc.if_else(pc.and_(has_line, pc.is_null(quantity)), 1, quantity)
    units = pc.cast(quantity, _UNITS)
    gross = _fit_money(pc.multiply(units, price))
    derived_total = _fit_money(pc.subtract(gross, pc.coalesce(discount, pa.scalar(0, MONEY))))
    total = pc.coalesce(total, derived_total)
    nonzero = pc.fill_null(pc.not_equal(quantity, 0), False)
    per_unit = pc.divide(total, pc.if_else(nonzero, units, pa.scalar(1, _UNITS)))
    per_unit = _fit_money(pc.round(per_unit, 2, round_mode="half_towards_infinity"))
    price = pc.coalesce(price, pc.if_else(nonzero, per_unit, pa.scalar(None, MONEY)))
    build.columns.update(quantity=quantity, unit_price=price, line_amount=total)
    build.columns["_has_line"] = has_line
    _missing_line_price(build, has_line)


def _no_lines(build: _Builder) -> None:
    """An order-level file: item columns, if any, are informational only."""
    build.columns.update(
        quantity=pa.nulls(build.count, pa.int64()),
        unit_price=pa.nulls(build.count, MONEY),
        line_amount=pa.nulls(build.count, MONEY),
        _has_line=pa.array(np.zeros(build.count, dtype=bool)),
    )


def _fit_money(values: pa.Array) -> pa.Array:
    """Decimal arithmetic widens the type; narrow back to money, nulling what overflows."""
    wide = pa.decimal128(38, 2)
    values = pc.cast(values, wide)  # callers pass values with at most 2 decimals
    fits = pc.less(pc.abs(values), pa.scalar(_MONEY_LIMIT, wide))
    return pc.cast(pc.if_else(fits, values, pa.scalar(None, wide)), MONEY)


def _has_line(build: _Builder) -> pa.Array:
    """Rows of a line-level file that describe an item (any line column filled)."""
    if not build.spec.line_level:
        return pa.array(np.zeros(build.count, dtype=bool))
    present = pa.array(np.zeros(build.count, dtype=bool))
    for name in LINE_FIELDS:
        source = build.source(name)
        if source is not None:
            present = pc.or_(present, pc.is_valid(source.values))
    return present


def _missing_line_price(build: _Builder, has_line: pa.Array) -> None:
    """A line needs a price or a line amount; unreadable ones already have a problem."""
    missing = pc.and_(has_line, pc.is_null(build.columns["line_amount"]))
    written = pa.array(np.zeros(build.count, dtype=bool))
    for name in ("unit_price", "line_amount"):
        source = build.source(name)
        if source is not None:
            written = pc.or_(written, pc.is_valid(source.values))
    label = pa.repeat(pa.scalar(build.spec.label("unit_price")), build.count)
    build.problem(
        "unit_price",
        pc.and_(missing, pc.invert(written)),
        _Source(pa.nulls(build.count, pa.string()), label),
        "line has no price; line dropped, order kept",
        rejects.LINE,
    )


def _refuse_unreadable_columns(build: _Builder) -> None:
    """A required column where no value at all could be read is a mapping mistake."""
    for name, what in (("ordered_at", "date"), ("amount", "amount")):
        typed = build.typed(name)
        if typed is not None and (_is_temporal(typed.type) or build.typed_money(name) is not None):
            continue  # typed columns were read without parsing: nothing can be unreadable
        source = build.source(name)
        if source is None:
            continue
        present = pc.sum(pc.cast(pc.is_valid(source.values), pa.int64())).as_py() or 0
        parsed = pc.sum(pc.cast(pc.is_valid(build.columns[name]), pa.int64())).as_py() or 0
        if present and not parsed:
            example = pc.drop_null(source.values)[0].as_py()
            raise InputFileError(
                build.raw.path,
                f"no value in column {build.spec.label(name)} is a {what} we can read "
                f"(first: {example!r}); is it the right column? If not, {MAP_SYNTAX_HINT}",
            )


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _text_per_distinct(column: pa.ChunkedArray) -> pa.DictionaryArray:
    """``numbers.as_text`` of a text column with few distinct values, dictionary-encoded:
    trimming runs on the distinct values, not on every row."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    assert isinstance(encoded, pa.DictionaryArray)
    dictionary = numbers.as_text(encoded.dictionary)
    return pa.DictionaryArray.from_arrays(encoded.indices, dictionary)


def _is_temporal(kind: pa.DataType) -> bool:
    return bool(pa.types.is_timestamp(kind) or pa.types.is_date(kind))


def _assemble_rows(build: _Builder) -> pa.Table:
    rows = np.asarray(build.raw.rows, dtype=np.int64)
    columns = {
        "_file": pa.array(np.full(build.count, build.file_index, dtype=np.int32)),
        "_row": pa.array(rows),
        "_seq": pa.array(np.zeros(build.count, dtype=np.int64)),
        "_line_level": pa.array(np.full(build.count, build.spec.line_level, dtype=bool)),
        "_utc_offset": build.offsets.get("ordered_at", pa.nulls(build.count, dates.OFFSET)),
        **build.columns,
    }
    arrays = [pc.cast(columns[f.name], f.type) for f in STAGE_SCHEMA]
    return pa.table(arrays, schema=STAGE_SCHEMA)


def _ragged_problems(raw: RawFile, file_index: int) -> pa.Table:
    """The rows the reader set aside: a wrong number of fields, another text encoding."""
    if not raw.ragged and not raw.mixed:
        return rejects.empty_problems()
    ragged = rejects.problems(
        file_index,
        [r.row for r in raw.ragged],
        reason=[
            f"expected {r.expected} fields like the header, found {r.actual}; "
            "check quoting and the delimiter"
            for r in raw.ragged
        ],
        scope=rejects.ORDER,
        raw=[r.text for r in raw.ragged],
    )
    mixed = rejects.problems(
        file_index,
        [r.row for r in raw.mixed],
        reason=[r.reason for r in raw.mixed],
        scope=rejects.ORDER,
        raw=[r.text for r in raw.mixed],
    )
    return rejects.concat_problems([ragged, mixed])
