"""Read CSV, Parquet and XLSX files into Arrow tables, plus the row numbers a user sees.

CSV columns are read as text: parsing money and dates is the job of :mod:`.parsing`,
which knows about decimal commas and day-first dates. Parquet and XLSX keep their cell
types (a timestamp stays a timestamp).
"""

from __future__ import annotations

import codecs
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from regulars.data.importers.sniff import (
    SAMPLE_BYTES,
    decode_sample,
    detect_delimiter,
    detect_encoding,
    sample_rows,
    sniff_kind,
)
from regulars.errors import InputFileError


@dataclass
class RaggedRow:
    """A CSV line whose number of fields differs from the header's."""

    row: int
    text: str
    expected: int
    actual: int


@dataclass
class MixedEncodingRow:
    """A CSV line in another text encoding than the rest of its file, set aside."""

    row: int
    text: str
    reason: str


@dataclass
class RawFile:
    """One input file as read: every data row, with the spreadsheet row number of each."""

    path: Path
    kind: str
    table: pa.Table
    rows: np.ndarray[Any, np.dtype[np.int64]]
    delimiter: str = ","
    ragged: list[RaggedRow] = field(default_factory=list)
    mixed: list[MixedEncodingRow] = field(default_factory=list)

    @property
    def label(self) -> str:
        """How rejects name the file: the path as the user gave it."""
        return str(self.path)


def read_raw(path: Path, *, delimiter: str | None, encoding: str | None) -> RawFile:
    """Read one file, raising :class:`InputFileError` when it is unusable as a whole."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file not found")
    if path.is_dir():
        raise InputFileError(path, "this is a folder; pass the export files themselves")
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if not head.strip():
        raise InputFileError(path, "the file is empty; export the orders again")
    kind = sniff_kind(path, head)
    if kind == "parquet":
        raw = _read_parquet(path)
    elif kind == "xlsx":
        raw = _read_xlsx(path)
    else:
        raw = _read_csv(path, head, delimiter=delimiter, encoding=encoding)
    return _without_blank_rows(raw)


def _sequential_rows(count: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Spreadsheet numbering: the header is row 1, the first data row is row 2."""
    return np.arange(2, count + 2, dtype=np.int64)


def _read_parquet(path: Path) -> RawFile:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputFileError(path, f"cannot read this Parquet file ({exc})") from None
    return RawFile(path, "parquet", table, _sequential_rows(table.num_rows))


def _read_xlsx(path: Path) -> RawFile:
    """Read the first worksheet; its first row is the header.

    openpyxl hands cells over one row at a time, so XLSX is the one reader that touches
    every row in Python; we only transpose the rows into columns and let Arrow type them.
    """
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    # A file handle, not the path: openpyxl refuses paths that do not end in .xlsx, and an
    # XLSX saved as "orders.csv" is recognised by its content.
    with path.open("rb") as handle:
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
            rows = list(workbook.worksheets[0].iter_rows(values_only=True))
            workbook.close()
        except (InvalidFileException, KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
            raise InputFileError(path, f"cannot open this Excel workbook ({exc})") from None
    if not rows or all(cell is None for cell in rows[0]):
        raise InputFileError(path, "the first worksheet is empty; the first row must be the header")
    header = unique_names([("" if cell is None else str(cell)) for cell in rows[0]])
    body = rows[1:]
    columns = list(zip(*body, strict=False)) if body else [() for _ in header]
    arrays = [_column_array(list(col) + [None] * (len(body) - len(col))) for col in columns]
    arrays += [pa.nulls(len(body), pa.string())] * (len(header) - len(arrays))
    table = pa.table(arrays[: len(header)], names=header)
    return RawFile(path, "xlsx", table, _sequential_rows(len(body)))


def _column_array(values: list[Any]) -> pa.Array:
    """Arrow's own type inference; cells of mixed types become text."""
    try:
        return pa.array(values, from_pandas=False)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def unique_names(names: list[str]) -> list[str]:
    """Header names made non-empty and unique (``Total``, ``Total (2)``)."""
    seen: dict[str, int] = {}
    result: list[str] = []
    for position, raw in enumerate(names, start=1):
        name = raw.strip() or f"column {position}"
        count = seen.get(name.lower(), 0) + 1
        seen[name.lower()] = count
        result.append(name if count == 1 else f"{name} ({count})")
    return result


def _read_csv(path: Path, head: bytes, *, delimiter: str | None, encoding: str | None) -> RawFile:
    codec = detect_encoding(path, head, encoding)
    if encoding is None and codec not in {"utf-8", "utf-16"} and _mostly_utf8(head):
        codec = "utf-8"  # a UTF-8 file with some rows in a legacy code page
    text = decode_sample(head, codec)
    chosen = delimiter or detect_delimiter(text)
    sample = sample_rows(text, chosen)
    if not sample:
        raise InputFileError(path, "the file has no header row")
    header = unique_names(sample[0])
    if len(sample) == 1 and len(head) < SAMPLE_BYTES:
        # Header only (Arrow cannot skip a header that has no line break after it).
        empty = pa.table({name: pa.array([], pa.string()) for name in header})
        return RawFile(path, "csv", empty, _sequential_rows(0), delimiter=chosen)
    try:
        table, ragged, mixed = _parse_csv(path, head, header, chosen, codec, encoding is not None)
    except pa.ArrowInvalid as exc:
        raise InputFileError(path, _csv_failure_message(exc, codec)) from None
    rows = _rows_without(table.num_rows, [r.row for r in ragged])
    return RawFile(path, "csv", table, rows, delimiter=chosen, ragged=ragged, mixed=mixed)


def _parse_csv(
    path: Path, head: bytes, header: list[str], delimiter: str, codec: str, explicit: bool
) -> tuple[pa.Table, list[RaggedRow], list[MixedEncodingRow]]:
    """Arrow's parse of the file. A file in one encoding goes straight to Arrow; a legacy
    code page (not named by the user) or a UTF-8 file with rows in another encoding goes
    through :func:`_one_encoding` first, which sets those rows aside."""
    data = None
    if explicit or codec == "utf-16" or (codec == "utf-8" and _is_utf8(head, final=False)):
        try:
            return (*_arrow_csv(path, header, delimiter, codec), [])
        except pa.ArrowInvalid as exc:
            # Valid UTF-8 in the sample but not further down: rows in another encoding, if
            # the file has UTF-8 text (else it is a legacy file: the user names its code page).
            if explicit or codec != "utf-8" or not _is_utf8_failure(exc):
                raise
            data = path.read_bytes()
            if not _mostly_utf8(data):
                raise
    data = path.read_bytes() if data is None else data
    source, mixed = _one_encoding(data, codec, len(header), delimiter)
    return (*_arrow_csv(source, header, delimiter, "utf-8"), mixed)


def _is_utf8(data: bytes, *, final: bool) -> bool:
    try:
        data.decode("utf-8") if final else codecs.getincrementaldecoder("utf-8")().decode(data)
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(sample: bytes) -> bool:
    """At least as many of the non-ASCII lines are valid UTF-8 as not: a UTF-8
    file (the default of today's software) with some rows in a legacy code page."""
    lines = [line for line in sample.split(b"\n")[:-1] if not line.isascii()]
    valid = sum(_is_utf8(line, final=True) for line in lines)
    return valid > 0 and valid >= len(lines) - valid


def _is_utf8_failure(exc: Exception) -> bool:
    return "UTF8" in str(exc) or "utf-8" in str(exc).lower()


def _one_encoding(
    data: bytes, codec: str, columns: int, delimiter: str
) -> tuple[pa.BufferReader, list[MixedEncodingRow]]:
    """The file as UTF-8, every line decoded with ``codec``; a line in the other encoding
    (UTF-8 in a legacy file, a legacy code page in a UTF-8 file) is not guessed: it becomes
    a blank line (dropped with the blank rows) and a :class:`MixedEncodingRow`.

    Rows are counted as lines here, like the ragged rows Arrow reports.
    """
    blank = delimiter * (columns - 1)
    if codec == "utf-8":
        suspects: Sequence[int] = range(1, data.count(b"\n") + 1)  # rare: known to be mixed
        lines = data.decode("utf-8", errors="replace").split("\n")
    else:
        suspects = _lines_with_utf8(data)
        lines = data.decode(codec, errors="replace").split("\n")
    raw = data.split(b"\n") if len(suspects) else []
    mixed: list[MixedEncodingRow] = []
    for index in suspects:
        line = raw[index]
        if line.isascii() or _is_utf8(line, final=True) == (codec == "utf-8"):
            continue
        mixed.append(_mixed_row(index + 1, line, codec))
        lines[index] = blank + ("\r" if line.endswith(b"\r") else "")
    return pa.BufferReader("\n".join(lines).encode()), mixed


# A multi-byte UTF-8 sequence: rare in single-byte code page text, where a line containing
# one is checked whole.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _lines_with_utf8(data: bytes) -> list[int]:
    """Indexes of the lines after the header holding a multi-byte UTF-8 sequence."""
    starts = [match.start() for match in _UTF8_SEQUENCE.finditer(data)]
    if not starts:
        return []
    breaks = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    found = np.unique(np.searchsorted(breaks, np.asarray(starts)))
    return [int(i) for i in found if i > 0]


def _mixed_row(number: int, line: bytes, codec: str) -> MixedEncodingRow:
    if codec == "utf-8":
        text = line.decode("utf-8", errors="replace")
        reason = (
            "this row is not UTF-8 like the rest of the file (another encoding, e.g. "
            "cp1251); save the file in one encoding"
        )
    else:
        text = line.decode("utf-8")
        reason = (
            f"this row is UTF-8 while the rest of the file is {codec}; "
            "save the file in one encoding"
        )
    return MixedEncodingRow(number, text.rstrip("\r"), reason)


def _csv_failure_message(exc: Exception, codec: str) -> str:
    if "UTF8" in str(exc) or "utf-8" in str(exc).lower():
        return (
            f"the file is not valid {codec} text further down; "
            "pass --encoding with the file's encoding (e.g. cp1251 or cp1252)"
        )
    return f"cannot read this CSV file ({exc})"


def _arrow_csv(
    path: Path | pa.BufferReader, header: list[str], delimiter: str, codec: str
) -> tuple[pa.Table, list[RaggedRow]]:
    """Parse with Arrow's multi-threaded reader, every column as text.

    Rows with the wrong number of fields are set aside. Arrow only knows their line
    number when it reads on one thread, so a file that has such rows is read again that
    way (a rare, already broken file pays the price, not every file).
    """
    table, ragged = _arrow_csv_once(path, header, delimiter, codec, threads=True)
    if any(r.row <= 0 for r in ragged):
        if isinstance(path, pa.BufferReader):
            path.seek(0)
        table, ragged = _arrow_csv_once(path, header, delimiter, codec, threads=False)
    return table, ragged


def _arrow_csv_once(
    path: Path | pa.BufferReader, header: list[str], delimiter: str, codec: str, *, threads: bool
) -> tuple[pa.Table, list[RaggedRow]]:
    ragged: list[RaggedRow] = []

    def set_aside(row: Any) -> str:
        ragged.append(
            RaggedRow(row.number or 0, str(row.text), row.expected_columns, row.actual_columns)
        )
        return "skip"

    read = pacsv.ReadOptions(
        column_names=header,
        skip_rows=1,
        encoding="utf8" if codec in {"utf-8", "utf_8"} else codec,
        use_threads=threads,
        block_size=1 << 24,
    )
    parse = pacsv.ParseOptions(
        delimiter=delimiter,
        newlines_in_values=True,
        ignore_empty_lines=False,
        invalid_row_handler=set_aside,
    )
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        null_values=[""],
    )
    table = pacsv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    return table, sorted(ragged, key=lambda r: r.row)


def _rows_without(kept: int, skipped: list[int]) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Row numbers of the kept rows, given the row numbers of the rows set aside."""
    every = np.arange(2, kept + len(skipped) + 2, dtype=np.int64)
    return np.setdiff1d(every, np.asarray(skipped, dtype=np.int64), assume_unique=True)[:kept]


def _without_blank_rows(raw: RawFile) -> RawFile:
    """Drop rows where every cell is empty (spacer lines, formatted but empty Excel rows).

    Empty CSV cells are already null; a line of spaces only fills the first column.
    """
    table = raw.table
    if table.num_rows == 0 or table.num_columns == 0:
        return raw
    if any(c.null_count == 0 and not pa.types.is_string(c.type) for c in table.columns):
        return raw  # a typed column filled on every row: no row is blank
    first = table.column(0)
    filled = pc.is_valid(first)
    if pa.types.is_string(first.type):
        length = pc.utf8_length(pc.utf8_trim_whitespace(first))
        filled = pc.fill_null(pc.greater(length, 0), False)
    for column in table.columns[1:]:
        filled = pc.or_(filled, pc.is_valid(column))
    if pc.all(filled).as_py():
        return raw
    keep = np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)
    raw.table = table.filter(filled)
    raw.rows = raw.rows[keep]
    return raw
