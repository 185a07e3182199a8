"""Pages from Jinja2 templates (autoescaped), with the user, the CSRF token and a formatter
for the user's locale (:class:`regulars.report.formatting.Formatter`, as the report)."""

from __future__ import annotations

from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from regulars.config import Settings
from regulars.report.formatting import Formatter
from regulars.store.shop_settings import effective_for
from regulars.store.tables import User
from regulars.web.i18n import N_, browser_locale, translations
from regulars.web.roles import Permission, allows
from regulars.web.security import CSRF_COOKIE, Signer, new_csrf_cookie

env = jinja2.Environment(
    loader=jinja2.PackageLoader("regulars.web", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

NAV: tuple[tuple[str, str, Permission], ...] = (
    ("/", N_("Dashboard"), Permission.DASHBOARD),
    ("/segments", N_("Segments"), Permission.DASHBOARD),
    ("/customers", N_("Customers"), Permission.CUSTOMERS),
    ("/loyalty", N_("Loyalty"), Permission.LOYALTY),
    # Owners see every settings page, marketers the data import (``/settings`` picks).
    ("/settings", N_("Settings"), Permission.IMPORT),
)


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    user: User | None,
    status_code: int = 200,
) -> HTMLResponse:
    """The page ``template`` for ``user``; gives the browser a CSRF cookie if it has none."""
    signer: Signer = request.app.state.web.signer
    csrf_cookie = request.cookies.get(CSRF_COOKIE)
    fresh = csrf_cookie is None
    if csrf_cookie is None:
        csrf_cookie = new_csrf_cookie()
    locale = (
        user.locale if user is not None else browser_locale(request.headers.get("accept-language"))
    )
    shop, shop_name = effective_for(request.app.state.engine, request.app.state.web.config)
    page = env.get_template(template).render(
        request=request,
        user=user,
        path=request.url.path,
        nav=[(href, label) for href, label, p in NAV if user is not None and allows(user.role, p)],
        can=lambda p: user is not None and allows(user.role, Permission(p)),
        csrf_token=signer.csrf_token(csrf_cookie),
        fmt=Formatter.of(format_locale(locale, shop), shop.currency),
        shop_name=shop_name,
        lang=locale,
        _=translations(locale).gettext,
        **context,
    )
    response = HTMLResponse(page, status_code=status_code)
    if fresh:
        response.set_cookie(
            CSRF_COOKIE,
            csrf_cookie,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response


def formatter_for(request: Request, user: User) -> Formatter:
    """How pages write numbers, money and dates for ``user``: the :func:`render` context's
    ``fmt``, for a page that formats values in Python (the shop's settings, read from the
    store)."""
    shop, _name = effective_for(request.app.state.engine, request.app.state.web.config)
    return Formatter.of(format_locale(user.locale, shop), shop.currency)


def format_locale(language: str, shop: Settings) -> str:
    """The shop's locale when it is in the user's language (``en_GB`` for an English user
    of a British shop), else the user's language: numbers and dates as the user reads."""
    return shop.locale if shop.locale.split("_")[0].lower() == language else language
