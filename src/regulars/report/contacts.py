"""Contact lists a marketer opens in a spreadsheet: one per RFM segment, and the
customers at risk (:mod:`regulars.models.risk`).

Each list is a CSV for spreadsheets (:func:`regulars.data.spreadsheet.write_spreadsheet_csv`:
UTF-8 with BOM, formulas neutralised) with one row per customer: who they are (id, and
email, phone and name when the import had them), their segment and history, and — when
the customers were scored — P(alive), churn risk, 12-month CLV and the value at risk.
Rows are sorted with the most valuable first: by value at risk, else by revenue.
The report writes them to ``contacts/`` next to ``report.html`` and links them;
``regulars segments export`` writes the same files.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from regulars.analytics.rfm import SEGMENTS
from regulars.data.spreadsheet import write_spreadsheet_csv

CONTACTS_DIR = "contacts"
#: The name of the at-risk list (not to be confused with the RFM segment "At risk").
AT_RISK = "At-risk customers"

#: Columns of a list, in order, when the data has them; floats rounded to these digits.
LIST_COLUMNS = (
    "customer_id",
    "email",
    "phone",
    "name",
    "segment",
    "orders",
    "revenue",
    "first_purchase",
    "last_purchase",
    "recency_days",
    "p_alive",
    "churn_risk",
    "clv_12m",
    "value_at_risk",
)
_DIGITS = {"p_alive": 3, "churn_risk": 1, "clv_12m": 2, "value_at_risk": 2}


def slug(name: str) -> str:
    """A file name for a list: ``Can't lose them`` → ``cant-lose-them``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower().replace("'", "")).strip("-")


def file_name(name: str) -> str:
    """The file name of a list: ``champions.csv``, ``at-risk.csv``."""
    return f"{slug(name)}.csv"


def list_file(name: str) -> str:
    """The path of a list in the report's folder, as the report links it."""
    return f"{CONTACTS_DIR}/{file_name(name)}"


def contact_table(customers: pa.Table, contacts: pa.Table | None) -> pa.Table:
    """The list columns of ``customers`` (with the contacts joined in), floats rounded."""
    table = customers
    if contacts is not None:
        table = table.join(contacts, "customer_id", join_type="left outer")
    columns = [c for c in LIST_COLUMNS if c in table.column_names]
    table = table.select(columns)
    for name, digits in _DIGITS.items():
        if name in table.column_names:
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, pc.round(table.column(name), digits))
    return table


def _most_valuable_first(table: pa.Table) -> pa.Table:
    keys = [("value_at_risk", "descending")] if "value_at_risk" in table.column_names else []
    return table.sort_by([*keys, ("revenue", "descending"), ("customer_id", "ascending")])


def segment_named(text: str) -> str | None:
    """The segment a user means by ``text``: its name in any case, or its file name
    (``cant-lose-them``); None when there is none."""
    wanted = slug(text)
    return next((name for name in SEGMENTS if slug(name) == wanted), None)


def segment_list(table: pa.Table, segment: str) -> pa.Table:
    """The customers of one segment from a :func:`contact_table`, most valuable first."""
    return _most_valuable_first(table.filter(pc.equal(table.column("segment"), segment)))


def write_contact_lists(
    folder: Path,
    customers: pa.Table,
    contacts: pa.Table | None,
    at_risk: pa.Table | None,
    segments: Iterable[str] | None = None,
) -> dict[str, Path]:
    """Write one list per segment (all of :data:`~regulars.analytics.rfm.SEGMENTS` that
    have customers, or the given ones) and the at-risk list (when given) to ``folder``;
    returns each list's path by name (:data:`AT_RISK` for the last)."""
    table = contact_table(customers, contacts)
    present = set(table.column("segment").to_pylist())
    wanted = list(segments) if segments is not None else [s for s in SEGMENTS if s in present]
    written: dict[str, Path] = {}
    for segment in wanted:
        path = folder / file_name(segment)
        write_spreadsheet_csv(segment_list(table, segment), path)
        written[segment] = path
    if at_risk is not None:
        path = folder / file_name(AT_RISK)
        write_spreadsheet_csv(contact_table(at_risk, contacts), path)
        written[AT_RISK] = path
    return written
