"""``read_orders``: files in, canonical tables and rejects out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from regulars.data.importers import rejects
from regulars.data.importers.assemble import META_SCHEMA, assemble
from regulars.data.importers.canonical import CANONICAL, MAPPED
from regulars.data.importers.formats import FileSpec, Preset, check_required, resolve
from regulars.data.importers.mapping import (
    ColumnMapping,
    MappingError,
    check_timezone,
    day_first_from_format,
    normalize_delimiter,
)
from regulars.data.importers.readers import RawFile, read_raw
from regulars.data.importers.result import ImportResult
from regulars.data.importers.shopify import SHOPIFY, looks_like_shopify
from regulars.data.importers.staging import STAGE_SCHEMA, Options, Stage, stage_file
from regulars.data.importers.woocommerce import WOOCOMMERCE, looks_like_woocommerce
from regulars.errors import InputFileError

#: How times without an offset are read when no time zone is given.
DEFAULT_TIMEZONE = "UTC"


def read_orders(
    paths: Sequence[str | Path],
    *,
    mapping: ColumnMapping | None = None,
    timezone: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
) -> ImportResult:
    """Import order exports (CSV, Parquet, XLSX; canonical, Shopify or WooCommerce).

    Arguments override the same options in ``mapping``. ``timezone`` (else the mapping's)
    is the shop's: times written without an offset are read on its clock; with neither,
    they are read as UTC (``ImportResult.timezone`` is then None). Raises
    :class:`~regulars.errors.InputFileError` for a file that is unusable as a whole and
    :class:`~regulars.data.importers.mapping.MappingError` for invalid options; bad rows
    never raise, they are listed in ``ImportResult.rejects``.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise InputFileError("(no files)", "no input files were given")
    settings = mapping or ColumnMapping()
    options = _options(settings, timezone=timezone, decimal=decimal)
    chosen_delimiter = normalize_delimiter(delimiter) if delimiter else settings.delimiter
    chosen_encoding = encoding or settings.encoding
    raws: list[RawFile] = []
    stages: list[Stage] = []
    specs: list[FileSpec] = []
    for index, path in enumerate(paths):
        raw = read_raw(Path(path), delimiter=chosen_delimiter, encoding=chosen_encoding)
        headers = list(raw.table.column_names)
        spec = resolve(_preset(headers, mapping), headers, mapping, raw.path)
        check_required(spec, headers, raw.path)
        raws.append(raw)
        specs.append(spec)
        stages.append(stage_file(raw, spec, index, options))
    return _result(raws, specs, stages, timezone or settings.timezone)


def _options(mapping: ColumnMapping, *, timezone: str | None, decimal: str | None) -> Options:
    """Arguments first, then the mapping's options, then defaults."""
    zone = timezone or mapping.timezone or DEFAULT_TIMEZONE
    check_timezone(zone)
    separator = decimal or mapping.decimal
    if separator not in {None, ".", ","}:
        raise MappingError(f"decimal must be '.' or ',', got {separator!r}")
    day_first = day_first_from_format(mapping.date_format) if mapping.date_format else None
    return Options(timezone=zone, decimal=separator, day_first=day_first)


def _preset(headers: list[str], mapping: ColumnMapping | None) -> Preset:
    """An explicit column mapping means 'mapped'; otherwise recognise the export."""
    if mapping is not None and mapping.columns:
        return MAPPED
    if looks_like_shopify(headers):
        return SHOPIFY
    if looks_like_woocommerce(headers):
        return WOOCOMMERCE
    return CANONICAL


def _result(
    raws: list[RawFile], specs: list[FileSpec], stages: list[Stage], timezone: str | None
) -> ImportResult:
    rows = _numbered(pa.concat_tables([STAGE_SCHEMA.empty_table(), *(s.rows for s in stages)]))
    found = rejects.concat_problems([s.problems for s in stages])
    built = assemble(
        rows,
        found,
        _meta(raws, specs),
        with_lines=any(spec.line_level for spec in specs),
        with_customers=any(stage.has_customer_attributes for stage in stages),
    )
    problems = built.problems
    rejected = _count_rows(problems, (rejects.ORDER, rejects.LINE))
    return ImportResult(
        orders=built.orders,
        order_lines=built.order_lines,
        customers=built.customers,
        rejects=_rejects_table(problems, raws),
        rows_read=rows.num_rows + sum(len(raw.ragged) for raw in raws),
        orders_imported=built.orders.num_rows,
        rows_rejected=rejected,
        duplicate_orders=built.duplicate_orders,
        source_format="+".join(dict.fromkeys(spec.format for spec in specs)),
        utc_offsets=built.utc_offsets,
        timezone=timezone,
    )


def _numbered(rows: pa.Table) -> pa.Table:
    """Give every row its position across all files: 'first' means first in input order."""
    position = pa.array(np.arange(rows.num_rows, dtype=np.int64))
    return rows.set_column(rows.schema.get_field_index("_seq"), "_seq", position)


def _meta(raws: list[RawFile], specs: list[FileSpec]) -> pa.Table:
    """Per file: its name and how its key columns are called, for messages."""
    identity = ("customer_id", "email", "phone")
    records = [
        {
            "_file": index,
            "label": raw.label,
            "order_id_col": spec.label("order_id"),
            "customer_col": " / ".join(spec.label(n) for n in identity if n in spec.sources),
            "ordered_at_col": spec.label("ordered_at"),
            "amount_col": spec.label("amount"),
            "has_amount": "amount" in spec.sources,
        }
        for index, (raw, spec) in enumerate(zip(raws, specs, strict=True))
    ]
    return pa.Table.from_pylist(records, schema=META_SCHEMA)


def _count_rows(problems: pa.Table, scopes: tuple[str, ...]) -> int:
    """Distinct (file, row) pairs among problems of the given scopes."""
    chosen = problems.filter(pc.is_in(problems.column("scope"), pa.array(scopes)))
    if chosen.num_rows == 0:
        return 0
    pairs = chosen.group_by(["_file", "_row"]).aggregate([])
    return int(pairs.num_rows)


def _rejects_table(problems: pa.Table, raws: list[RawFile]) -> pa.Table:
    """Problems with file names and each row's original text, sorted by file and row."""
    parts: list[pa.Table] = []
    for index, raw in enumerate(raws):
        mine = problems.filter(pc.equal(problems.column("_file"), index))
        mine = mine.sort_by([("_row", "ascending")])
        if mine.num_rows == 0:
            continue
        positions = np.searchsorted(raw.rows, mine.column("_row").to_numpy())
        positions = np.clip(positions, 0, max(raw.table.num_rows - 1, 0))
        text = rejects.row_text(raw.table, positions, raw.delimiter)
        raw_text = pc.coalesce(mine.column("raw"), text)
        parts.append(rejects.to_rejects(mine, [r.label for r in raws], raw_text))
    if not parts:
        return rejects.REJECTS_SCHEMA.empty_table()
    return pa.concat_tables(parts).combine_chunks()
