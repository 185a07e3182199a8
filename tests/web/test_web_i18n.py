"""English and Russian: complete, compiled catalogs; pages in the user's language, the login
in the browser's; numbers and dates in the same locale."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from web_helpers import PASSWORD, log_in

from regulars.errors import RegularsError
from regulars.store.session import session_scope
from regulars.web.i18n import LOCALE_DIR, LOCALES, browser_locale, translations
from regulars.web.users import USER_LOCALES, create_user


def _catalog(path: Path) -> dict[str, str]:
    with path.open("rb") as f:
        return {str(m.id): str(m.string) for m in read_po(f) if m.id}


def test_every_text_is_translated_and_compiled() -> None:
    template = _catalog(LOCALE_DIR / "messages.pot")
    assert len(template) > 40
    for locale in LOCALES[1:]:
        catalog = _catalog(LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po")
        assert set(catalog) == set(template), "run make translations"
        assert [m for m, text in catalog.items() if not text] == []
        compiled = translations(locale)
        assert {m: compiled.gettext(m) for m in catalog} == catalog, "run make translations"


def test_the_users_languages_are_the_apps() -> None:
    assert USER_LOCALES == LOCALES


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("ru-RU,ru;q=0.9,en;q=0.8", "ru"),
        ("de-DE,de;q=0.9,ru;q=0.5,en;q=0.4", "ru"),
        ("en;q=0.9,ru", "ru"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
        ("ru;q=abc", "en"),
    ],
)
def test_the_browsers_language(header: str | None, locale: str) -> None:
    assert browser_locale(header) == locale


def test_a_russian_user_sees_russian_pages_and_numbers(
    web: TestClient, store_engine: Engine, snapshot: None
) -> None:
    with session_scope(store_engine) as session:
        create_user(session, "olga", PASSWORD, "viewer", actor="test", locale="ru")
    log_in(web, "olga")
    page = web.get("/").text
    assert '<html lang="ru">' in page
    assert "Сводка" in page
    assert "Чистая выручка" in page
    assert "51,00" in page  # the ru decimal comma
    assert "1 нояб. 2026" in page
    assert "Net revenue" not in page


def test_the_login_page_speaks_the_browsers_language(web: TestClient) -> None:
    page = web.get("/login", headers={"Accept-Language": "ru,en;q=0.5"}).text
    assert '<html lang="ru">' in page
    assert "Имя пользователя" in page
    assert "Username" in web.get("/login").text


def test_an_unknown_language_is_refused(store_engine: Engine) -> None:
    with session_scope(store_engine) as session, pytest.raises(RegularsError, match="locale"):
        create_user(session, "pierre", PASSWORD, "viewer", actor="test", locale="fr")
