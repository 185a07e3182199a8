"""One loyalty program: its rules in plain words, members, rewards, referrals; and, loaded
by htmx because each reads the whole ledger or order history, its economics (liability,
breakage: :func:`regulars.api.services.loyalty.program_economics`), its effect against
the control group (:func:`regulars.api.services.loyalty.program_effect`) and the what-if
simulation on the shop's own orders
(:func:`regulars.loyalty.simulation.on_store.simulate_on_store`)."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import pydantic
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from regulars.api.deps import SessionDep
from regulars.api.problems import ApiProblemError
from regulars.api.services.loyalty import program_economics, program_effect
from regulars.clock import local_day, utcnow
from regulars.config import Settings
from regulars.errors import RegularsError
from regulars.limits import check_date
from regulars.loyalty import members as member_views
from regulars.loyalty.catalogue import find_program, program_config, program_state
from regulars.loyalty.tables import LoyaltyProgram
from regulars.store.tables import User
from regulars.web.deps import require
from regulars.web.i18n import N_
from regulars.web.loyalty_forms import TYPE_LABELS, describe
from regulars.web.render import formatter_for, render
from regulars.web.roles import Permission

router = APIRouter()
Reader = Annotated[User, Depends(require(Permission.LOYALTY))]
PAGE_SIZE = 25
MIN_GROUP = 30
"""Fewer customers than this in either group: the effect is shown as not enough data
(an interval from a handful of customers says nothing a shop can act on)."""
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
Text = Annotated[str, Query(max_length=64)]


def _program_or_404(
    request: Request, session: Session, user: User, code: str
) -> LoyaltyProgram | HTMLResponse:
    program = find_program(session, code)
    if program is None:
        context = {"title": N_("No such program"), "message": f"No loyalty program '{code}'."}
        return render(request, "error.html", context, user=user, status_code=404)
    return program


def _page_url(request: Request, param: str, number: int) -> str:
    """This page's address with ``param`` (one list's page) set to ``number``."""
    params = dict(request.query_params) | {param: str(number)}
    return "?" + urlencode(params)


def _pages(total: int) -> int:
    return max(1, math.ceil(total / PAGE_SIZE))


@router.get("/loyalty/{code}", response_class=HTMLResponse)
def program_page(
    request: Request,
    session: SessionDep,
    user: Reader,
    code: str,
    q: Annotated[str, Query(max_length=255)] = "",
    sort: Text = member_views.DEFAULT_SORT,
    page: PageNumber = 1,
    rpage: PageNumber = 1,
    fpage: PageNumber = 1,
) -> HTMLResponse:
    """Members searched, sorted and paged (``q``, ``sort``, ``page``); rewards (``rpage``)
    and referrals (``fpage``) paged on their own."""
    found = _program_or_404(request, session, user, code)
    if isinstance(found, HTMLResponse):
        return found
    program = found
    errors: dict[str, str] = {}
    if sort not in member_views.MEMBER_SORTS:
        errors["sort"] = N_("Choose a sort from the list.")
        sort = member_views.DEFAULT_SORT
    fmt = formatter_for(request, user)
    listing = member_views.members(
        session,
        program,
        q=q.strip() or None,
        sort=sort,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    rewards = member_views.rewards(
        session, program, offset=(rpage - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    referrals = (
        member_views.referrals(session, program, offset=(fpage - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        if program.type == "referral"
        else None
    )
    settings = Settings()
    today = local_day(utcnow(), settings.timezone)
    launched = local_day(program.starts_at, settings.timezone)
    context: dict[str, Any] = {
        "program": program,
        "state": program_state(program, utcnow()),
        "type_label": TYPE_LABELS.get(program.type, program.type),
        "rules": describe(program_config(program), fmt.money),
        "q": q,
        "sort": sort,
        "sorts": member_views.MEMBER_SORTS,
        "errors": errors,
        "members": listing,
        "page": page,
        "pages": _pages(listing.total),
        "rewards": rewards,
        "reward_counts": member_views.reward_counts(session, program),
        "rpage": rpage,
        "rpages": _pages(rewards.total),
        "referrals": referrals,
        "fpage": fpage,
        "fpages": _pages(referrals.total) if referrals else 1,
        "effect_start": max(launched, today - timedelta(days=90)).isoformat(),
        "effect_end": (today + timedelta(days=1)).isoformat(),
        "page_url": lambda param, number: _page_url(request, param, number),
        "sim_values": _simulation_defaults(program),
        "sim_errors": {},
        "sim": None,
    }
    return render(request, "loyalty_program.html", context, user=user)


# -- economics, effect, simulation: fragments htmx loads into the page --------------------


def _fragment(request: Request, user: User, template: str, **context: Any) -> HTMLResponse:
    return render(request, template, context, user=user)


def _engine(session: Session) -> Engine:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    return engine


@router.get("/loyalty/{code}/economics", response_class=HTMLResponse)
def economics(request: Request, session: SessionDep, user: Reader, code: str) -> HTMLResponse:
    """Liability, breakage and the monthly points flow on the live ledger (points
    programs; another type is told it keeps no points)."""
    program = find_program(session, code)
    if program is None:
        return _fragment(
            request,
            user,
            "loyalty_economics.html",
            economics=None,
            problem=f"No loyalty program '{code}'.",
        )
    if program.type != "points":
        problem = N_("This program keeps no points, so it has no points liability or breakage.")
        return _fragment(request, user, "loyalty_economics.html", economics=None, problem=problem)
    try:
        found = program_economics(session, code, None, None)
    except ApiProblemError as exc:
        return _fragment(
            request, user, "loyalty_economics.html", economics=None, problem=exc.detail
        )
    return _fragment(request, user, "loyalty_economics.html", economics=found, problem=None)


def _day_or_none(text: str) -> date | None:
    """The day ``text`` names, inside the documented range (:mod:`regulars.limits`: a
    year 9999 would overflow the period's end), else None."""
    try:
        return check_date(date.fromisoformat(text)) if text else None
    except ValueError:
        return None


@router.get("/loyalty/{code}/effect", response_class=HTMLResponse)
def effect(
    request: Request,
    session: SessionDep,
    user: Reader,
    code: str,
    start: Text = "",
    end: Text = "",
) -> HTMLResponse:
    """Members against the control group over ``[start, end)`` with the intervals; says
    when there is no control group or too few customers to tell."""
    first, after = _day_or_none(start), _day_or_none(end)
    if first is None or after is None:
        problem = N_("Enter the period's first day and the day after it as YYYY-MM-DD.")
        return _fragment(
            request, user, "loyalty_effect.html", effect=None, problem=problem, few=False
        )
    try:
        measured = program_effect(session, code, first, after)
    except ApiProblemError as exc:
        problem = exc.detail
        if "no customers" in problem:  # a group is empty: say it is a question of data
            problem = f"Not enough data to measure: {problem}."
        return _fragment(
            request, user, "loyalty_effect.html", effect=None, problem=problem, few=False
        )
    few = min(measured.members.customers, measured.control.customers) < MIN_GROUP
    return _fragment(request, user, "loyalty_effect.html", effect=measured, problem=None, few=few)


SIM_RULES = ("earn_per_unit", "point_value", "expiry_days", "pending_days", "max_redeem_share")
SIM_ASSUMPTIONS = (
    "enrolment_share",
    "redeemer_share",
    "redeem_threshold_value",
    "expected_lift_pct",
)


def _simulation_defaults(program: LoyaltyProgram) -> dict[str, str]:
    """The form's start: the program's own rules (a points program), else 1 point per unit
    worth 0.01; the simulator's default assumptions."""
    from regulars.loyalty.simulation.proposal import Assumptions

    rules = (
        program.config
        if program.type == "points"
        else {"earn_per_unit": "1", "point_value": "0.01"}
    )
    values = {name: "" if rules.get(name) is None else str(rules[name]) for name in SIM_RULES}
    if program.type != "points":
        values |= {"expiry_days": "365", "pending_days": "14", "max_redeem_share": "0.5"}
    assumed = Assumptions()
    for name in SIM_ASSUMPTIONS:
        value = getattr(assumed, name)
        values[name] = "" if value is None else str(value)
    return values | {"start": "", "end": ""}


def _proposal(program: LoyaltyProgram, form: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """The proposed program the form describes, validated by the simulator's own model;
    or the fields in error. An empty expiry is "never"; other empty fields keep defaults."""
    from regulars.loyalty.simulation.proposal import ProposedProgram

    base = dict(program.config) if program.type == "points" else {}
    rules = {**base, **{k: form[k] for k in SIM_RULES if form.get(k)}}
    rules["type"] = "points"
    if not form.get("expiry_days"):
        rules["expiry_days"] = None
    assumptions: dict[str, Any] = {k: form[k] for k in SIM_ASSUMPTIONS if form.get(k)}
    assumptions["program_code"] = program.code
    try:
        return ProposedProgram.model_validate({"rules": rules, "assumptions": assumptions}), {}
    except pydantic.ValidationError as exc:
        errors: dict[str, str] = {}
        for e in exc.errors():
            loc = [str(p) for p in e["loc"]]
            name = next((p for p in reversed(loc) if p in SIM_RULES + SIM_ASSUMPTIONS), "form")
            errors.setdefault(name, str(e["msg"]).removeprefix("Value error, "))
        return None, errors


@router.get("/loyalty/{code}/simulate", response_class=HTMLResponse)
def simulate(request: Request, session: SessionDep, user: Reader, code: str) -> HTMLResponse:
    """Replay the shop's orders under the rules in the form (can take seconds); answers
    the simulation section again: the form as typed, its errors or the result."""
    from regulars.loyalty.simulation.on_store import simulate_on_store

    found = _program_or_404(request, session, user, code)
    if isinstance(found, HTMLResponse):
        return found
    program = found
    wanted = (*SIM_RULES, *SIM_ASSUMPTIONS, "start", "end")
    values = {k: request.query_params.get(k, "").strip()[:64] for k in wanted}
    proposed, errors = _proposal(program, values)
    start, end = _day_or_none(values["start"]), _day_or_none(values["end"])
    for name, day in (("start", start), ("end", end)):
        if values[name] and day is None:
            errors[name] = N_("Enter a date as YYYY-MM-DD.")
    sim = None
    if not errors:
        try:
            sim = simulate_on_store(_engine(session), proposed, start=start, end=end)
        except RegularsError as exc:
            errors["form"] = str(exc)
    context = {"program": program, "sim_values": values, "sim_errors": errors, "sim": sim}
    return render(request, "loyalty_simulation.html", context, user=user)
