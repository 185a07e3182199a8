"""Loyalty: the programs as the API lists them; create and edit one, pause, resume or end
it (owner, marketer) through the API's services, which validate with the type's config
model and record each change in the audit log."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from regulars.api.deps import SessionDep
from regulars.api.problems import ApiProblemError
from regulars.api.schemas.loyalty import ProgramIn, ProgramPatchIn
from regulars.api.services.loyalty import (
    change_program_state,
    config_problem,
    create_program,
    list_programs,
    patch_changes,
    update_program,
)
from regulars.clock import utcnow
from regulars.loyalty.catalogue import (
    FIXED_CONFIG_KEYS,
    PROGRAM_ACTIONS,
    find_program,
    program_state,
    program_types,
    validate_config,
)
from regulars.loyalty.errors import ProgramError
from regulars.loyalty.tables import SHORTFALL_POLICIES, LoyaltyProgram
from regulars.report.formatting import Formatter
from regulars.store.tables import User
from regulars.web.deps import CsrfDep, require
from regulars.web.i18n import N_
from regulars.web.loyalty_forms import (
    TYPE_LABELS,
    config_fields,
    describe,
    field_errors,
    form_values,
    parse_config,
    starter_values,
)
from regulars.web.render import formatter_for, render
from regulars.web.roles import Permission

router = APIRouter()
Reader = Annotated[User, Depends(require(Permission.LOYALTY))]
Writer = Annotated[User, Depends(require(Permission.LOYALTY_WRITE))]


async def form_data(request: Request) -> dict[str, str]:
    """The posted form as text (the config fields are named by the type, so not declared)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


FormDep = Annotated[dict[str, str], Depends(form_data)]


def _page(
    request: Request, session: Session, user: User, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    now = utcnow()
    programs = [(p, program_state(p, now)) for p in list_programs(session)]
    context: dict[str, Any] = {"programs": programs, "errors": {}, "notice": None, **extra}
    return render(request, "loyalty.html", context, user=user, status_code=status_code)


@router.get("/loyalty", response_class=HTMLResponse)
def programs_page(request: Request, session: SessionDep, user: Reader) -> HTMLResponse:
    return _page(request, session, user)


@router.post("/loyalty/{code}/state", dependencies=[CsrfDep])
def change_state(
    request: Request,
    session: SessionDep,
    user: Writer,
    code: str,
    action: Annotated[str, Form(max_length=16)] = "",
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Ending is for good, so it needs its box ticked; an error is shown beside the form."""
    if action not in PROGRAM_ACTIONS:
        errors = {code: "Choose pause, resume or end."}
        return _page(request, session, user, 422, errors=errors)
    if action == "end" and confirm != "yes":
        errors = {code: "Tick “end it for good” to end the program."}
        return _page(request, session, user, 422, errors=errors)
    try:
        change_program_state(session, code, action, actor=f"user:{user.username}")
    except ApiProblemError as exc:
        return _page(request, session, user, exc.status, errors={code: exc.detail})
    back = "/loyalty" if request.headers.get("referer", "").endswith("/loyalty") else None
    return RedirectResponse(back or f"/loyalty/{code}", status_code=303)


# -- the program form: create and edit ---------------------------------------------------

COMMON_FIELDS = ("code", "name", "currency", "starts_on", "ends_on", "shortfall_policy")
_FIELD_OF = {"starts_at": "starts_on", "ends_at": "ends_on"}


def _day(text: str, field: str, errors: dict[str, str]) -> datetime | None:
    """A form's date as the start of that UTC day; a bad one is a field error."""
    if not text.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(text.strip()), time(), tzinfo=UTC)
    except ValueError:
        errors[field] = N_("Enter a date as YYYY-MM-DD.")
        return None


def _model_errors(exc: pydantic.ValidationError) -> dict[str, str]:
    """A body model's errors by form field (the first per field)."""
    errors: dict[str, str] = {}
    for e in exc.errors():
        name = str(e["loc"][0]) if e["loc"] else "config"
        errors.setdefault(_FIELD_OF.get(name, name), str(e["msg"]))
    return errors


def _problem_errors(exc: ApiProblemError) -> dict[str, str]:
    """A service's refusal by form field: the config's fields, else where its text says."""
    if exc.extra.get("errors"):
        return field_errors(exc.extra["errors"])
    if exc.status == 409 and "code" in exc.detail and "exists" in exc.detail:
        return {"code": exc.detail}
    for field in ("ends_at", "starts_at", "currency", "shortfall_policy"):
        if exc.detail.startswith(field):
            return {_FIELD_OF.get(field, field): exc.detail}
    return {"form": exc.detail}


def _preview(
    program_type: str, config: dict[str, Any], fmt: Formatter
) -> tuple[list[Any], dict[str, str]]:
    """The rules in plain words, or the config's errors (validated as the API validates)."""
    try:
        valid = validate_config(program_type, config)
    except pydantic.ValidationError as exc:
        return [], field_errors(config_problem(exc).extra["errors"])
    except ProgramError as exc:
        return [], {"config": str(exc)}
    return describe(valid, fmt.money), {}


def _form_page(
    request: Request,
    user: User,
    *,
    program: LoyaltyProgram | None,
    program_type: str,
    values: dict[str, str],
    errors: dict[str, str],
    preview: list[Any],
    status_code: int = 200,
) -> HTMLResponse:
    started = program is not None and program_state(program, utcnow()) != "scheduled"
    context = {
        "program": program,
        "program_type": program_type,
        "type_labels": TYPE_LABELS,
        "types": program_types(),
        "fields": config_fields(program_type),
        "fixed_config": FIXED_CONFIG_KEYS if started else (),
        "started": started,
        "policies": SHORTFALL_POLICIES,
        "values": values,
        "errors": errors,
        "preview": preview,
    }
    return render(request, "loyalty_form.html", context, user=user, status_code=status_code)


@router.get("/loyalty/new", response_class=HTMLResponse)
def new_program(
    request: Request,
    user: Writer,
    type: str = "points",
) -> HTMLResponse:
    """The form for a new program of ``type``, started from a small valid example."""
    program_type = type if type in program_types() else "points"
    values = {"shortfall_policy": "allow_negative", **starter_values(program_type)}
    config, _ = parse_config(program_type, values)
    preview, _ = _preview(program_type, config, formatter_for(request, user))
    return _form_page(
        request,
        user,
        program=None,
        program_type=program_type,
        values=values,
        errors={},
        preview=preview,
    )


@router.post("/loyalty/new", dependencies=[CsrfDep])
def create(request: Request, session: SessionDep, user: Writer, form: FormDep) -> Response:
    """Preview (the rules in words) or save; errors keep every value typed."""
    program_type = form.get("type", "")
    if program_type not in program_types():
        program_type = "points"
    config, errors = parse_config(program_type, form)
    body: dict[str, Any] = {
        "code": form.get("code", ""),
        "name": form.get("name", ""),
        "type": program_type,
        "config": config,
        "currency": form.get("currency", "").strip().upper() or None,
        "starts_at": _day(form.get("starts_on", ""), "starts_on", errors),
        "ends_at": _day(form.get("ends_on", ""), "ends_on", errors),
        "shared_household": form.get("shared_household") == "yes",
        "shortfall_policy": form.get("shortfall_policy", "allow_negative"),
    }
    try:
        valid = ProgramIn.model_validate(body)
    except pydantic.ValidationError as exc:
        errors = {**_model_errors(exc), **errors}
    preview, config_errors = _preview(program_type, config, formatter_for(request, user))
    errors = {**config_errors, **errors}
    if errors or form.get("intent") == "preview":
        return _form_page(
            request,
            user,
            program=None,
            program_type=program_type,
            values=form,
            errors=errors,
            preview=preview,
            status_code=422 if errors else 200,
        )
    try:
        create_program(session, valid, actor=f"user:{user.username}")
    except ApiProblemError as exc:
        return _form_page(
            request,
            user,
            program=None,
            program_type=program_type,
            values=form,
            errors=_problem_errors(exc),
            preview=preview,
            status_code=exc.status,
        )
    return RedirectResponse(f"/loyalty/{valid.code}", status_code=303)


def _stored_values(program: LoyaltyProgram) -> dict[str, str]:
    return {
        "code": program.code,
        "name": program.name,
        "currency": program.currency or "",
        "starts_on": program.starts_at.date().isoformat(),
        "ends_on": program.ends_at.date().isoformat() if program.ends_at else "",
        "shared_household": "yes" if program.shared_household else "",
        "shortfall_policy": program.shortfall_policy,
        **form_values(program.type, program.config),
    }


def _editable(session: Session, code: str) -> LoyaltyProgram:
    program = find_program(session, code)
    if program is None:
        raise ApiProblemError(404, f"No loyalty program '{code}'.", kind="not-found")
    if program_state(program, utcnow()) == "ended":
        raise ApiProblemError(
            409, f"Program '{code}' has ended: it cannot change.", kind="conflict"
        )
    return program


def _refused(request: Request, user: User, exc: ApiProblemError) -> HTMLResponse:
    title = N_("No such program") if exc.status == 404 else N_("This program cannot change")
    context = {"title": title, "message": exc.detail}
    return render(request, "error.html", context, user=user, status_code=exc.status)


@router.get("/loyalty/{code}/edit", response_class=HTMLResponse)
def edit_program(request: Request, session: SessionDep, user: Writer, code: str) -> HTMLResponse:
    try:
        program = _editable(session, code)
    except ApiProblemError as exc:
        return _refused(request, user, exc)
    values = _stored_values(program)
    preview, _ = _preview(program.type, program.config, formatter_for(request, user))
    return _form_page(
        request,
        user,
        program=program,
        program_type=program.type,
        values=values,
        errors={},
        preview=preview,
    )


@router.post("/loyalty/{code}/edit", dependencies=[CsrfDep])
def save_program(
    request: Request, session: SessionDep, user: Writer, code: str, form: FormDep
) -> Response:
    """The same checks and service as ``PATCH /v1/loyalty/programs/{code}``."""
    try:
        program = _editable(session, code)
    except ApiProblemError as exc:
        return _refused(request, user, exc)
    config, errors = parse_config(program.type, form)
    started = program_state(program, utcnow()) != "scheduled"
    values = {**form, "code": program.code}
    body: dict[str, Any] = {
        "name": form.get("name", ""),
        "config": config,
        "shortfall_policy": form.get("shortfall_policy", program.shortfall_policy),
    }
    stored = _stored_values(program)
    if form.get("ends_on", "") != stored["ends_on"]:  # the same day keeps the stored instant
        body["ends_at"] = _day(form.get("ends_on", ""), "ends_on", errors)
    if not started:  # what a started program keeps is shown, not sent
        body["currency"] = form.get("currency", "").strip().upper() or None
        body["shared_household"] = form.get("shared_household") == "yes"
        if form.get("starts_on", "") != stored["starts_on"]:
            body["starts_at"] = _day(form.get("starts_on", ""), "starts_on", errors)
    preview, config_errors = _preview(
        program.type, {**program.config, **config}, formatter_for(request, user)
    )
    errors = {**config_errors, **errors}
    try:
        patch = ProgramPatchIn.model_validate(body)
    except pydantic.ValidationError as exc:
        errors = {**_model_errors(exc), **errors}
    if errors or form.get("intent") == "preview":
        return _form_page(
            request,
            user,
            program=program,
            program_type=program.type,
            values=values,
            errors=errors,
            preview=preview,
            status_code=422 if errors else 200,
        )
    try:
        update_program(session, code, patch_changes(patch), actor=f"user:{user.username}")
    except ApiProblemError as exc:
        return _form_page(
            request,
            user,
            program=program,
            program_type=program.type,
            values=values,
            errors=_problem_errors(exc),
            preview=preview,
            status_code=exc.status,
        )
    return RedirectResponse(f"/loyalty/{code}", status_code=303)
