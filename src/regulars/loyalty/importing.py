"""Import historical balances and transactions into a program's ledger.

The CSV has the columns ``customer_id, points, occurred_at, expires_at, kind``:

* ``points``: a non-zero integer; positive for ``import`` (an opening balance), ``earn`` and
  ``adjust``; negative for ``spend``, ``expire`` and ``adjust``;
* ``occurred_at`` / ``expires_at``: ISO 8601 with a time zone (``expires_at`` may be empty:
  never expires); credits are spendable from ``occurred_at``;
* rows are applied in file order; a debit takes from the lots live at its ``occurred_at``.

Each row is its own savepoint: a bad row is rejected (with its row number, column and the
reason, written to the rejects file) and the others still go in. Row ``n`` of a file is
written under the idempotency key ``import:<SHA-256 of the file>:<n>``, so importing the
same file again adds nothing. Imports write ledger entries only: no tier changes, rewards
or webhooks.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.data.spreadsheet import write_spreadsheet_csv
from regulars.errors import InputFileError, RegularsError
from regulars.limits import check_instant
from regulars.loyalty.accounting.enrolment import enroll
from regulars.loyalty.accounting.ledger import EntrySpec, credit, debit
from regulars.loyalty.catalogue import find_program
from regulars.loyalty.errors import ControlGroupError, InsufficientPointsError
from regulars.loyalty.tables import LoyaltyProgram
from regulars.store.session import session_scope
from regulars.store.tables import Customer
from regulars.store.upsert import dialect_insert

COLUMNS = ("customer_id", "points", "occurred_at", "expires_at", "kind")
CREDIT_KINDS = ("import", "earn", "adjust")
DEBIT_KINDS = ("spend", "expire", "adjust")


class RowError(RegularsError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"{column}: {message}")
        self.column = column
        self.message = message


@dataclass(frozen=True)
class Row:
    customer_id: str
    points: int
    occurred_at: datetime
    expires_at: datetime | None
    kind: str


@dataclass
class ImportReport:
    rows: int = 0
    written: int = 0
    replayed: int = 0
    rejected: list[tuple[int, str, str, dict[str, str]]] = field(default_factory=list)
    """(row number, column, message, the row as read)."""

    def summary(self) -> str:
        return (
            f"{self.rows} row(s): {self.written} imported, {self.replayed} already imported, "
            f"{len(self.rejected)} rejected"
        )

    def write_rejects(self, path: Path) -> None:
        """The rejected rows as a CSV for spreadsheets: UTF-8 with a BOM, formulas neutralised
        (:func:`regulars.data.spreadsheet.write_spreadsheet_csv`)."""
        columns: dict[str, pa.Array] = {
            "row": pa.array([r[0] for r in self.rejected], pa.int64()),
            "column": pa.array([r[1] for r in self.rejected], pa.string()),
            "error": pa.array([r[2] for r in self.rejected], pa.string()),
        }
        for name in COLUMNS:
            columns[name] = pa.array([r[3].get(name, "") for r in self.rejected], pa.string())
        write_spreadsheet_csv(pa.table(columns), path)


def _time(raw: dict[str, str], column: str, required: bool) -> datetime | None:
    text = (raw.get(column) or "").strip()
    if not text:
        if required:
            raise RowError(column, "is empty")
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise RowError(column, f"'{text}' is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise RowError(column, f"'{text}' has no time zone (add Z or +01:00)")
    try:
        return check_instant(value)
    except ValueError as exc:
        raise RowError(column, f"'{text}' {exc}") from None


def parse_row(raw: dict[str, str]) -> Row:
    """One CSV row, checked; :class:`RowError` names the column at fault."""
    customer_id = (raw.get("customer_id") or "").strip()
    if not customer_id:
        raise RowError("customer_id", "is empty")
    text = (raw.get("points") or "").strip()
    try:
        points = int(text)
    except ValueError:
        raise RowError("points", f"'{text}' is not a whole number of points") from None
    if points == 0:
        raise RowError("points", "is 0")
    kind = (raw.get("kind") or "import").strip() or "import"
    allowed = CREDIT_KINDS if points > 0 else DEBIT_KINDS
    if kind not in allowed:
        sign = "positive" if points > 0 else "negative"
        raise RowError("kind", f"'{kind}' with {sign} points; use {', '.join(allowed)}")
    occurred_at = _time(raw, "occurred_at", required=True)
    assert occurred_at is not None
    expires_at = _time(raw, "expires_at", required=False)
    if expires_at is not None and expires_at <= occurred_at:
        raise RowError("expires_at", "is not after occurred_at")
    return Row(customer_id, points, occurred_at, expires_at, kind)


def _ensure_customer(session: Session, customer_id: str) -> None:
    now = utcnow()
    session.execute(
        dialect_insert(session, Customer)
        .values(customer_id=customer_id, attributes={}, created_at=now, updated_at=now)
        .on_conflict_do_nothing()
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def import_history(engine: Engine, path: Path, program_code: str) -> ImportReport:
    """Apply the rows of ``path`` to ``program_code``'s ledger; see the module docstring."""
    if not path.is_file():
        raise InputFileError(path, "no such file")
    digest = _digest(path)
    report = ImportReport()
    with path.open(newline="", encoding="utf-8-sig") as handle, session_scope(engine) as session:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in ("customer_id", "points", "occurred_at") if c not in header]
        if missing:
            raise InputFileError(
                path, f"missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}"
            )
        program = find_program(session, program_code)
        if program is None:
            raise RegularsError(f"no loyalty program '{program_code}'")
        for number, raw in enumerate(reader, start=2):  # row 1 is the header
            report.rows += 1
            try:
                row = parse_row(raw)
                with session.begin_nested():
                    replay = _apply(session, program, row, f"import:{digest}:{number}", path.name)
            except RowError as exc:
                report.rejected.append((number, exc.column, exc.message, raw))
                continue
            except InsufficientPointsError as exc:
                report.rejected.append((number, "points", str(exc), raw))
                continue
            except ControlGroupError as exc:
                report.rejected.append((number, "customer_id", str(exc), raw))
                continue
            if replay:
                report.replayed += 1
            else:
                report.written += 1
    return report


def _apply(session: Session, program: LoyaltyProgram, row: Row, key: str, source: str) -> bool:
    _ensure_customer(session, row.customer_id)
    account = enroll(session, program, row.customer_id)
    spec = EntrySpec(
        kind=row.kind,
        key=key,
        actor=f"import:{source}",
        occurred_at=row.occurred_at,
        reason="imported history",
    )
    if row.points > 0:
        posted = credit(
            session,
            account.id,
            row.points,
            spec,
            available_at=row.occurred_at,
            expires_at=row.expires_at,
        )
    else:
        posted = debit(session, account.id, -row.points, spec, now=row.occurred_at)
    return posted.replay
