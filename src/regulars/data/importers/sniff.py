"""Guess what kind of file we were given, its text encoding and its CSV delimiter.

Everything here looks at a bounded sample at the start of the file, never at every row.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import charset_normalizer

from regulars.errors import InputFileError

SAMPLE_BYTES = 1 << 20
DELIMITERS = (",", ";", "\t", "|")
_SNIFF_LINES = 50

#: Single-byte code pages that shop and POS exports use in practice; restricting the
#: detector to them stops short Cyrillic samples from being read as Chinese.
LEGACY_ENCODINGS = (
    "cp1251",
    "cp1252",
    "cp1250",
    "koi8_r",
    "iso8859_15",
    "cp1253",
    "cp1254",
    "cp1257",
)

_MAGIC = (
    (b"PAR1", "parquet"),
    (b"PK\x03\x04", "xlsx"),
    (b"\xd0\xcf\x11\xe0", "xls"),
    (b"%PDF", "pdf"),
)


def sniff_kind(path: Path, head: bytes) -> str:
    """``"csv"``, ``"parquet"`` or ``"xlsx"`` from the file's first bytes, then its suffix.

    Magic bytes win over the suffix, so an XLSX file saved as ``orders.csv`` still works.
    """
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            if kind == "xls":
                raise InputFileError(
                    path, "this is an old Excel .xls file; save it as .xlsx or CSV and try again"
                )
            if kind == "pdf":
                raise InputFileError(path, "this is a PDF, not an orders table (CSV/XLSX/Parquet)")
            return kind
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        raise InputFileError(path, "the file is named .parquet but is not a Parquet file")
    if suffix in {".xlsx", ".xlsm"}:
        raise InputFileError(path, "the file is named .xlsx but is not an Excel workbook")
    return "csv"


def detect_encoding(path: Path, sample: bytes, explicit: str | None) -> str:
    """The Python codec name to read the file with.

    Order: an explicit encoding; a byte-order mark (UTF-8/UTF-16); strict UTF-8; else the
    best of :data:`LEGACY_ENCODINGS` according to charset-normalizer.
    """
    if explicit:
        try:
            return codecs.lookup(explicit).name
        except LookupError:
            raise InputFileError(
                path, f"unknown encoding {explicit!r}; try utf-8, cp1251 or cp1252"
            ) from None
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _looks_binary(sample):
        raise InputFileError(
            path,
            "the file is binary, not a CSV text file; export the orders as CSV, XLSX or Parquet",
        )
    if _is_utf8(sample):
        return "utf-8"
    best = charset_normalizer.from_bytes(sample, cp_isolation=list(LEGACY_ENCODINGS)).best()
    if best is None:
        raise InputFileError(
            path, "cannot tell the text encoding of this file; pass --encoding (e.g. cp1251)"
        )
    return codecs.lookup(best.encoding).name


def _looks_binary(sample: bytes) -> bool:
    """NUL bytes or many control characters mean this is not a text table."""
    if b"\x00" in sample:
        return True
    control = sum(sample.count(bytes([c])) for c in range(32) if c not in (9, 10, 13))
    return control > max(8, len(sample) // 100)


def _is_utf8(sample: bytes) -> bool:
    """Strict UTF-8 check that tolerates a multi-byte character cut at the sample's end."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=len(sample) < SAMPLE_BYTES)
    except UnicodeDecodeError:
        return False
    return True


def decode_sample(sample: bytes, encoding: str) -> str:
    """The sample as text, cut after its last complete line."""
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample)
    text = text.lstrip("\ufeff")
    if len(sample) >= SAMPLE_BYTES and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text


def detect_delimiter(text: str) -> str:
    """The delimiter among , ; TAB | that splits the sample into the most consistent table.

    A candidate scores by (share of sample rows with the header's field count, number of
    fields); a file without any candidate yields ``","`` and a one-column header, which the
    caller reports together with the columns it found.
    """
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        rows = sample_rows(text, delimiter)
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        body = rows[1:] or rows
        score = (sum(len(r) == width for r in body) / len(body), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def sample_rows(text: str, delimiter: str) -> list[list[str]]:
    """The first rows of the sample split with ``delimiter`` (quotes respected)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if row:
                rows.append(row)
            if len(rows) >= _SNIFF_LINES:
                break
    except csv.Error:
        pass
    return rows
