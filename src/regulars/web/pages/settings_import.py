"""Settings → data import (owners and marketers): upload an orders export and load it
into the store by the path of ``regulars import`` (:func:`regulars.data.importers.read_orders`,
then :func:`regulars.store.ingest.ingest`), then see what was imported and the rejected rows
(file, row, column, reason), downloadable as a CSV.

The upload is bounded (:data:`MAX_UPLOAD_BYTES`, a clear message beyond): there is no
worker job for imports, and a file of that size is read and written in seconds, in a
thread of the server, not its event loop. Bigger exports go through ``regulars import``.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response

from regulars.data.importers import ImportResult, read_orders
from regulars.errors import RegularsError
from regulars.store.ingest import ingest
from regulars.store.shop_settings import effective_for
from regulars.store.tables import User
from regulars.web.deps import CsrfDep, require
from regulars.web.i18n import N_
from regulars.web.render import render
from regulars.web.roles import Permission

router = APIRouter()
Importer = Annotated[User, Depends(require(Permission.IMPORT))]

MAX_UPLOAD_BYTES = 16 * 1024 * 1024
"""The largest export the page takes (the API's bulk limit); bigger: ``regulars import``."""
UPLOAD_BODY_LIMIT = 2 * MAX_UPLOAD_BYTES
"""What the server reads of such a request at most (the form's overhead, and room to answer
a file somewhat over :data:`MAX_UPLOAD_BYTES` with the page's message, not a bare 413)."""
SUFFIXES = (".csv", ".txt", ".parquet")
REJECTS_SHOWN = 100
REJECTS_DIR = Path(tempfile.gettempdir()) / "regulars-import-rejects"
REJECTS_KEPT_SECONDS = 24 * 3600


def _page(request: Request, user: User, status_code: int = 200, **extra: Any) -> HTMLResponse:
    context: dict[str, Any] = {
        "errors": {},
        "result": None,
        "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
        **extra,
    }
    return render(request, "settings_import.html", context, user=user, status_code=status_code)


@router.get("/settings/import", response_class=HTMLResponse)
def import_page(request: Request, user: Importer) -> HTMLResponse:
    return _page(request, user)


async def _saved_upload(upload: UploadFile, folder: Path) -> Path | str:
    """The upload written to ``folder`` under its own name, or the reason it is refused."""
    name = Path(upload.filename or "").name
    if not name:
        return N_("Choose a file to upload.")
    if not name.lower().endswith(SUFFIXES):
        return N_("Upload a CSV or Parquet export (.csv, .txt or .parquet).")
    path = folder / name
    size = 0
    with path.open("wb") as out:
        while chunk := await upload.read(1024 * 1024):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                return N_(
                    "The file is larger than %(mb)s MB. Split it, or load it with "
                    "'regulars import' on the server."
                )
            out.write(chunk)
    if size == 0:
        return N_("The file is empty.")
    return path


@router.post("/settings/import", response_class=HTMLResponse, dependencies=[CsrfDep])
async def upload_orders(
    request: Request, user: Importer, file: UploadFile | None = None
) -> Response:
    """Import the uploaded export; the answer shows the counts and the rejected rows."""
    from starlette.concurrency import run_in_threadpool

    with tempfile.TemporaryDirectory() as folder:
        saved = (
            await _saved_upload(file, Path(folder))
            if file is not None
            else N_("Choose a file to upload.")
        )
        if isinstance(saved, str):
            return _page(request, user, 422, errors={"file": saved})
        try:
            result = await run_in_threadpool(_import, request, saved, user)
        except RegularsError as exc:  # a file unusable as a whole: its reason
            return _page(request, user, 422, errors={"file": str(exc)}, raw_error=True)
    return _page(request, user, result=result)


def _import(request: Request, path: Path, user: User) -> dict[str, Any]:
    """``regulars import`` of one file: read (rejects listed), then written to the store."""
    engine = request.app.state.engine
    settings, _name = effective_for(engine, request.app.state.web.config)
    found = _named(read_orders([path], timezone=settings.shop_timezone), path.name)
    counts = ingest(engine, found)
    token = _keep_rejects(found) if found.rows_rejected else None
    _audit(request, user, path.name, found.rows_read, counts.orders_inserted, found.rows_rejected)
    return {
        "file": path.name,
        "rows_read": found.rows_read,
        "rejected": found.rows_rejected,
        "duplicates": found.duplicate_orders,
        "counts": counts,
        "rejects": found.rejects.slice(0, REJECTS_SHOWN).to_pylist(),
        "rejects_token": token,
    }


def _named(found: ImportResult, name: str) -> ImportResult:
    """The rejects naming the file as uploaded, not the server's temporary path."""
    import pyarrow as pa

    rejects = found.rejects
    column = rejects.schema.get_field_index("file")
    named = pa.array([name] * rejects.num_rows, pa.string())
    return replace(found, rejects=rejects.set_column(column, rejects.schema.field(column), named))


def _audit(request: Request, user: User, name: str, read: int, new: int, rejected: int) -> None:
    from regulars.store.audit import record
    from regulars.store.session import session_scope

    with session_scope(request.app.state.engine) as session:
        record(
            session,
            actor=f"user:{user.username}",
            action="orders.import",
            target_type="file",
            target_id=name,
            details={"rows_read": read, "orders_new": new, "rows_rejected": rejected},
        )


def _keep_rejects(found: ImportResult) -> str:
    """Write the rejects CSV for download under a random name; drop day-old ones."""
    REJECTS_DIR.mkdir(mode=0o700, exist_ok=True)
    for old in REJECTS_DIR.glob("*.csv"):
        if old.stat().st_mtime < time.time() - REJECTS_KEPT_SECONDS:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(18)
    found.write_rejects(REJECTS_DIR / f"{token}.csv")
    return token


@router.get("/settings/import/rejects/{token}.csv")
def rejects_csv(request: Request, user: Importer, token: str) -> Response:
    """The rejected rows of an import (for a day after it), as a spreadsheet-safe CSV."""
    path = REJECTS_DIR / f"{token}.csv"
    if not token.replace("-", "").replace("_", "").isalnum() or not path.is_file():
        context = {
            "title": N_("Not found"),
            "message": N_("These rejects are no longer kept: import the file again."),
        }
        return render(request, "error.html", context, user=user, status_code=404)
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename="rejects.csv")
