"""The web app's languages: English (the source) and Russian, from Babel catalogs.

The catalogs are ``locale/<lang>/LC_MESSAGES/messages.po`` with their compiled ``.mo``
beside them (both committed; ``make translations`` extracts, updates and compiles). A page
is in the user's language (``users.locale``), the login page in the browser's
(``Accept-Language``); numbers, money and dates follow the same locale
(:class:`regulars.report.formatting.Formatter`).
"""

from __future__ import annotations

from functools import cache
from gettext import NullTranslations
from pathlib import Path

from babel.support import Translations

LOCALES = ("en", "ru")
DEFAULT_LOCALE = "en"
LOCALE_DIR = Path(__file__).parent / "locale"


def N_(message: str) -> str:  # noqa: N802 - the name extraction looks for
    """Mark ``message`` for translation where it is defined; pages translate it."""
    return message


@cache
def translations(locale: str) -> NullTranslations:
    """The catalog of ``locale`` (English, the source language, needs none)."""
    if locale not in LOCALES or locale == DEFAULT_LOCALE:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


def browser_locale(accept_language: str | None) -> str:
    """The first of :data:`LOCALES` the ``Accept-Language`` header asks for, by weight."""
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        wanted.append((-weight, position, tag.strip().lower()[:2]))
    for _weight, _position, language in sorted(wanted):
        if language in LOCALES:
            return language
    return DEFAULT_LOCALE
