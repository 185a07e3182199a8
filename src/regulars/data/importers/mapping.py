"""Column mappings: which column of a user's file feeds which canonical field.

A mapping comes from the command line (``--map "customer_id=Email,amount=Total"``) or
from a small TOML file. It may also carry reading options (delimiter, encoding, decimal
separator, time zone, date format) so one file describes a recurring export completely.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from regulars.data.schema import CUSTOMER_FIELDS, LINE_FIELDS, ORDER_FIELDS
from regulars.errors import InputFileError, RegularsError

#: Not a canonical column: a per-line discount that is subtracted from quantity × price.
EXTRA_FIELDS = ("line_discount",)
FIELDS = ORDER_FIELDS + CUSTOMER_FIELDS + LINE_FIELDS + EXTRA_FIELDS

OPTION_KEYS = ("delimiter", "encoding", "decimal", "timezone", "date_format")

MAP_SYNTAX_HINT = (
    'map them with --map "customer_id=<column>,order_id=<column>,'
    'ordered_at=<column>,amount=<column>" (or a mapping file with a [columns] table)'
)


class MappingError(RegularsError):
    """A column mapping or a reading option is invalid."""


@dataclass(frozen=True)
class ColumnMapping:
    """Canonical field → column name in the user's file, plus optional reading options.

    ``columns`` keys are canonical fields (see :data:`FIELDS`); values are header names as
    they appear in the file (matched case- and whitespace-insensitively).
    """

    columns: dict[str, str] = field(default_factory=dict)
    delimiter: str | None = None
    encoding: str | None = None
    decimal: str | None = None
    timezone: str | None = None
    date_format: str | None = None

    def merged_with(self, other: ColumnMapping) -> ColumnMapping:
        """This mapping with every column and option that ``other`` sets replaced."""
        options = {key: getattr(other, key) for key in OPTION_KEYS if getattr(other, key)}
        return replace(self, columns={**self.columns, **other.columns}, **options)


def normalize_header(name: str) -> str:
    """Header key used for matching: lower case, runs of spaces/underscores/hyphens → '_'."""
    return re.sub(r"[\s_\-]+", "_", name.strip().lower()).strip("_")


_PAIR = re.compile(
    r"""\s*(?P<key>[A-Za-z][A-Za-z_ \-]*?)\s*=\s*"""  # field name
    r"""(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^,]*?))"""  # "quoted", 'quoted' or bare
    r"""\s*(?:,|$)"""
)


def parse_mapping(spec: str) -> ColumnMapping:
    """Parse the CLI syntax ``"customer_id=Email,amount=Total,ordered_at=Paid at"``.

    Values may be quoted when they contain a comma (``amount="Total, EUR"``). Option keys
    (``delimiter``, ``encoding``, ``decimal``, ``timezone``, ``date_format``) are accepted
    too: ``--map 'date_format=DD/MM/YYYY'``.
    """
    pairs: dict[str, str] = {}
    position = 0
    text = spec.strip()
    while position < len(text):
        match = _PAIR.match(text, position)
        if match is None or match.end() == position:
            raise MappingError(
                f"cannot read the column mapping {spec!r} near {text[position:]!r}; "
                'expected "field=Column,field=Column"'
            )
        value = next(v for v in match.group("dq", "sq", "bare") if v is not None)
        pairs[match.group("key")] = value
        position = match.end()
    return _mapping_from_pairs(pairs, where="--map")


def load_mapping_file(path: Path) -> ColumnMapping:
    """Read a TOML mapping file: a ``[columns]`` table plus optional reading options.

    Example::

        delimiter = ";"
        decimal = ","
        timezone = "Europe/Berlin"
        date_format = "DD.MM.YYYY"

        [columns]
        customer_id = "Kundennummer"
        amount = "Summe"
    """
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputFileError(path, "mapping file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read the mapping file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(path, f"the mapping file is not valid TOML: {exc}") from None
    unknown = sorted(set(document) - {"columns", *OPTION_KEYS})
    if unknown:
        raise InputFileError(
            path,
            f"unknown key(s) {', '.join(unknown)}; allowed: [columns] and "
            + ", ".join(OPTION_KEYS),
        )
    columns = document.get("columns", {})
    if not isinstance(columns, dict):
        raise InputFileError(path, '[columns] must be a table of field = "Column name"')
    pairs = {key: _as_text(path, key, value) for key, value in columns.items()}
    try:
        mapping = _mapping_from_pairs(pairs, where=str(path), allow_options=False)
        options = {
            key: _as_text(path, key, document[key]) for key in OPTION_KEYS if key in document
        }
        return _build(mapping.columns, _checked_options(options))
    except MappingError as exc:
        raise InputFileError(path, str(exc)) from None


def _as_text(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InputFileError(path, f"{key} must be a string, got {value!r}")
    return value


def _mapping_from_pairs(
    pairs: dict[str, str], *, where: str, allow_options: bool = True
) -> ColumnMapping:
    """Split key=value pairs into column mappings and options, checking every key."""
    columns: dict[str, str] = {}
    options: dict[str, str] = {}
    known_fields = {normalize_header(f): f for f in FIELDS}
    for key, value in pairs.items():
        canonical = known_fields.get(normalize_header(key))
        if canonical is not None:
            if not value.strip():
                raise MappingError(f"{where}: the column for {canonical} is empty")
            columns[canonical] = value.strip()
        elif allow_options and key in OPTION_KEYS:
            options[key] = value
        else:
            raise MappingError(_unknown_key_message(where, key, value))
    return _build(columns, _checked_options(options))


def _build(columns: dict[str, str], options: dict[str, str]) -> ColumnMapping:
    return ColumnMapping(
        columns=columns,
        delimiter=options.get("delimiter"),
        encoding=options.get("encoding"),
        decimal=options.get("decimal"),
        timezone=options.get("timezone"),
        date_format=options.get("date_format"),
    )


def _unknown_key_message(where: str, key: str, value: str) -> str:
    known = {normalize_header(f) for f in FIELDS}
    if normalize_header(value) in known:
        return (
            f"{where}: {key!r} is not a canonical field; the field goes on the left: "
            f'"{normalize_header(value)}={key}"'
        )
    return f"{where}: unknown field {key!r}; fields are: {', '.join(FIELDS)}"


def _checked_options(options: dict[str, str]) -> dict[str, str]:
    """Validate option values early, so a typo fails before any file is read."""
    checked = dict(options)
    if "delimiter" in checked:
        checked["delimiter"] = normalize_delimiter(checked["delimiter"])
    if "decimal" in checked and checked["decimal"] not in {".", ","}:
        raise MappingError(f"decimal must be '.' or ',', got {checked['decimal']!r}")
    if "timezone" in checked:
        check_timezone(checked["timezone"])
    if "date_format" in checked:
        day_first_from_format(checked["date_format"])
    return checked


def normalize_delimiter(value: str) -> str:
    """A one-character delimiter; accepts the spellings ``\\t``, ``tab`` and ``TAB``."""
    if value.lower() in {"\\t", "tab"}:
        return "\t"
    if len(value) != 1 or value in {'"', "\n", "\r"}:
        raise MappingError(f"the delimiter must be one character such as ; or , (got {value!r})")
    return value


def check_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA time zone, else raise a helpful error."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin or UTC"
        ) from None
    return name


def day_first_from_format(date_format: str) -> bool:
    """Whether ``date_format`` puts the day before the month.

    Accepts token styles (``DD/MM/YYYY``, ``MM-DD-YY``, ``YYYY-MM-DD``) and strptime
    styles (``%d.%m.%Y``). Only the order of day and month matters: separators and the
    time part are recognised automatically.
    """
    text = date_format.upper().replace("%D", "DD").replace("%M", "MM").replace("%Y", "YYYY")
    day, month = text.find("D"), text.find("M")
    if day < 0 or month < 0:
        raise MappingError(
            f"date_format {date_format!r} must contain day and month, e.g. DD/MM/YYYY or MM/DD/YYYY"
        )
    return day < month
