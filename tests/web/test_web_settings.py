"""Settings pages: the shop's settings over the environment's, users and the last-owner
rule, webhooks (secret shown once), the data import with its rejects."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, select
from web_helpers import PASSWORD, csrf_of, log_in

from regulars.config import Settings
from regulars.loyalty.tables import LoyaltyWebhookEndpoint
from regulars.store.session import session_scope
from regulars.store.shop_settings import effective, effective_for
from regulars.store.tables import AuditEntry, Order, User


def _post(client: TestClient, page: str, path: str, **data: object) -> Response:
    token = csrf_of(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **data})


def _actions(engine: Engine, target_type: str) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.action)
            .where(AuditEntry.target_type == target_type)
            .order_by(AuditEntry.id)
        ).all()
    return [(a, b) for a, b in rows]


def test_shop_settings_are_validated_kept_and_take_precedence(
    login: Callable[[str], TestClient], store_engine: Engine
) -> None:
    client = login("owner")
    bad = _post(
        client,
        "/settings/shop",
        "/settings/shop",
        name="Café Lume",
        timezone="Mars/Olympus",
        currency="XYZ",
        locale="zz_QQ",
    )
    assert bad.status_code == 422
    text = bad.text
    assert 'value="Café Lume"' in text
    assert 'value="Mars/Olympus"' in text
    assert "not an IANA time zone" in text
    assert "ISO 4217" in text
    assert "not a known locale" in text
    assert text.count('aria-invalid="true"') == 3
    good = _post(
        client,
        "/settings/shop",
        "/settings/shop",
        name="Café Lume",
        timezone="Europe/Chisinau",
        currency="mdl",
        locale="en-GB",
    )
    assert good.status_code == 200
    assert "Café Lume" in good.text  # the header shows it
    with session_scope(store_engine) as session:
        settings = effective(session, Settings(timezone="UTC", currency="EUR"))
    assert (settings.timezone, settings.currency, settings.locale) == (
        "Europe/Chisinau",
        "MDL",
        "en_GB",
    )
    assert settings.shop_timezone == "Europe/Chisinau"  # order times are read on its clock
    assert effective_for(store_engine, Settings(locale="de_DE"))[1] == "Café Lume"
    assert _actions(store_engine, "shop") == [("user:owner", "shop.settings.update")]


def test_money_follows_the_shop_currency(
    login: Callable[[str], TestClient], shop: None, store_engine: Engine
) -> None:
    client = login("owner")
    _post(client, "/settings/shop", "/settings/shop", currency="USD")
    assert "$120.00" in client.get("/customers").text


def test_users_created_changed_disabled_and_reset(
    login: Callable[[str], TestClient], web: TestClient, store_engine: Engine
) -> None:
    client = login("owner")
    bad = _post(client, "/settings/users", "/settings/users", username="new one", password="short")
    assert bad.status_code == 422
    assert 'value="new one"' in bad.text
    assert "without spaces" in bad.text
    assert "at least 10 characters" in bad.text
    assert "short" not in bad.text.split("Add a user")[1]
    taken = _post(client, "/settings/users", "/settings/users", username="Agent", password=PASSWORD)
    assert "That username is taken" in taken.text
    made = _post(
        client,
        "/settings/users",
        "/settings/users",
        username="Nina",
        role="marketer",
        password=PASSWORD,
    )
    assert made.status_code == 200
    assert "nina" in made.text
    assert (
        _post(client, "/settings/users", "/settings/users/nina/role", role="agent").status_code
        == 303
    )
    with session_scope(store_engine) as session:
        assert session.scalars(select(User.role).where(User.username == "nina")).one() == "agent"

    # A disabled user's session ends and they cannot log in again until enabled.
    other = TestClient(web.app, follow_redirects=False)
    log_in(other, "viewer")
    assert other.get("/").status_code == 200
    _post(client, "/settings/users", "/settings/users/viewer/disable")
    assert other.get("/").status_code == 303
    assert _login_status(other, "viewer") != 303
    _post(client, "/settings/users", "/settings/users/viewer/enable")
    log_in(other, "viewer")
    # A password reset ends the sessions too.
    _post(
        client, "/settings/users", "/settings/users/viewer/password", password="another password 1"
    )
    assert other.get("/").status_code == 303
    log_in(other, "viewer", "another password 1")
    actions = [a for _, a in _actions(store_engine, "user")]
    for action in (
        "user.create",
        "user.role",
        "user.disable",
        "user.enable",
        "user.reset_password",
    ):
        assert action in actions


def _login_status(client: TestClient, username: str) -> int:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
    ).status_code


def test_the_shop_always_keeps_an_active_owner(
    login: Callable[[str], TestClient], store_engine: Engine
) -> None:
    client = login("owner")
    demoted = _post(client, "/settings/users", "/settings/users/owner/role", role="viewer")
    assert demoted.status_code == 422
    assert "the only active owner" in demoted.text
    disabled = _post(client, "/settings/users", "/settings/users/owner/disable")
    assert disabled.status_code == 422
    with session_scope(store_engine) as session:
        owner = session.scalars(select(User).where(User.username == "owner")).one()
        assert owner.role == "owner"
        assert owner.disabled_at is None
    # With a second owner, the first may step down.
    _post(client, "/settings/users", "/settings/users/marketer/role", role="owner")
    assert (
        _post(client, "/settings/users", "/settings/users/owner/role", role="viewer").status_code
        == 303
    )


def test_a_webhook_secret_is_shown_once_then_disabled_and_deleted(
    login: Callable[[str], TestClient], store_engine: Engine
) -> None:
    client = login("owner")
    empty = client.get("/settings/webhooks").text
    assert "No webhook endpoint yet" in empty
    bad = _post(client, "/settings/webhooks", "/settings/webhooks", url="ftp://x", kinds=["nope"])
    assert bad.status_code == 422
    assert 'value="ftp://x"' in bad.text
    assert "Choose event kinds" in bad.text
    made = _post(client, "/settings/webhooks", "/settings/webhooks", url="https://crm.example/hook")
    assert made.status_code == 200
    secret = made.text.split('id="new-secret">')[1].split("<")[0]
    assert len(secret) > 20
    page = client.get("/settings/webhooks").text
    assert "https://crm.example/hook" in page
    assert secret not in page
    with session_scope(store_engine) as session:
        endpoint_id = session.scalars(select(LoyaltyWebhookEndpoint.id)).one()
    early = _post(client, "/settings/webhooks", f"/settings/webhooks/{endpoint_id}/delete")
    assert early.status_code == 409
    assert "disable it first" in early.text
    assert (
        _post(client, "/settings/webhooks", f"/settings/webhooks/{endpoint_id}/disable").status_code
        == 303
    )
    assert (
        _post(client, "/settings/webhooks", f"/settings/webhooks/{endpoint_id}/delete").status_code
        == 303
    )
    assert "No webhook endpoint yet" in client.get("/settings/webhooks").text
    assert [a for _, a in _actions(store_engine, "loyalty_webhook")] == [
        "loyalty.webhook.add",
        "loyalty.webhook.remove",
        "loyalty.webhook.delete",
    ]


ORDERS_CSV = (
    "order_id,customer_id,ordered_at,amount,currency\n"
    "w1,k1,2026-11-01T10:00:00Z,12.50,EUR\n"
    "w2,k2,not a date,8.00,EUR\n"
    "w3,k1,2026-11-03T10:00:00Z,7.25,EUR\n"
)


def test_an_import_shows_counts_and_rejects_with_row_and_column(
    login: Callable[[str], TestClient], store_engine: Engine
) -> None:
    client = login("marketer")  # marketers import too
    token = csrf_of(client.get("/settings/import").text)
    answer = client.post(
        "/settings/import",
        data={"csrf_token": token},
        files={"file": ("orders.csv", ORDERS_CSV.encode(), "text/csv")},
    )
    assert answer.status_code == 200, answer.text
    text = answer.text
    assert "Rows rejected" in text
    assert "orders.csv" in text
    assert "ordered_at" in text  # the column of the rejected row
    with session_scope(store_engine) as session:
        assert set(session.scalars(select(Order.order_id))) == {"w1", "w3"}
    link = text.split('href="/settings/import/rejects/')[1].split('"')[0]
    download = client.get(f"/settings/import/rejects/{link}")
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[0]["file"] == "orders.csv"
    assert rows[0]["row"]
    assert rows[0]["column"] == "ordered_at"
    again = client.post(
        "/settings/import",
        data={"csrf_token": token},
        files={"file": ("orders.csv", ORDERS_CSV.encode(), "text/csv")},
    )
    assert "Orders unchanged" in again.text
    assert ("user:marketer", "orders.import") in _actions(store_engine, "file")


def test_an_import_refuses_a_bad_file_clearly(login: Callable[[str], TestClient]) -> None:
    client = login("owner")
    token = csrf_of(client.get("/settings/import").text)
    wrong = client.post(
        "/settings/import",
        data={"csrf_token": token},
        files={"file": ("orders.xlsx", b"xx", "application/octet-stream")},
    )
    assert wrong.status_code == 422
    assert "Upload a CSV or Parquet export" in wrong.text
    empty = client.post(
        "/settings/import",
        data={"csrf_token": token},
        files={"file": ("orders.csv", b"", "text/csv")},
    )
    assert empty.status_code == 422
    assert "The file is empty" in empty.text
    no_columns = client.post(
        "/settings/import",
        data={"csrf_token": token},
        files={"file": ("orders.csv", b"a,b\n1,2\n", "text/csv")},
    )
    assert no_columns.status_code == 422
    assert 'aria-invalid="true"' in no_columns.text
    assert client.get("/settings/import/rejects/nothing.csv").status_code == 404


def test_customer_filters_sorts_and_errors_keep_input(
    login: Callable[[str], TestClient], shop: None
) -> None:
    client = login("marketer")
    rich = client.get("/customers", params={"clv_min": "100"}).text
    assert 'href="/customers/c1"' in rich
    assert 'href="/customers/c2"' not in rich
    recent = client.get("/customers", params={"after": "2026-11-27"}).text
    assert 'href="/customers/c4"' in recent
    assert 'href="/customers/c1"' not in recent  # c3's order was cancelled
    assert 'href="/customers/c3"' not in recent
    by_clv = client.get("/customers", params={"sort": "-clv"}).text
    assert by_clv.index("/customers/c1") < by_clv.index("/customers/c2")
    assert by_clv.index("/customers/c2") < by_clv.index("/customers/c4")
    assert 'aria-sort="descending"' in by_clv
    assert "sort=clv" in by_clv  # the heading's link turns the order round
    bad = client.get("/customers", params={"clv_min": "lots", "after": "30.11.2026"})
    assert bad.status_code == 422
    assert 'value="lots"' in bad.text
    assert 'value="30.11.2026"' in bad.text
    assert 'aria-describedby="e-clv_min"' in bad.text
    assert "Type a date as YYYY-MM-DD." in bad.text
    live = client.get("/customers", params={"clv_max": "x"}, headers={"HX-Request": "true"})
    assert live.headers["HX-Retarget"] == "main"  # the form with its errors replaces the page's
    export = client.get("/customers.csv", params={"sort": "-clv", "clv_min": "20"})
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert [r["customer_id"] for r in rows] == ["c1", "c2"]


def test_a_russian_owner_reads_the_settings_and_customers_in_russian(
    web: TestClient, store_engine: Engine, shop: None
) -> None:
    from regulars.web.users import create_user

    with session_scope(store_engine) as session:
        create_user(session, "olga", PASSWORD, "owner", actor="test", locale="ru")
    log_in(web, "olga")
    assert "Часовой пояс" in web.get("/settings/shop").text
    assert "Добавить пользователя" in web.get("/settings/users").text
    _post(web, "/settings/shop", "/settings/shop", currency="EUR", locale="ru_RU")
    customers = web.get("/customers", params={"sort": "-clv"}).text
    assert "Последняя покупка" in customers
    assert "120,00\xa0€" in customers  # money in the user's locale and the shop's currency
    assert "Профиль" in web.get("/customers/c1").text


def test_control_characters_are_refused_in_names(store_engine: Engine) -> None:
    """A NUL or a line break in the shop's name or a username is refused by name, never
    stored without it (PostgreSQL cannot store a NUL)."""
    from regulars.errors import RegularsError
    from regulars.store.shop_settings import InvalidShopSettingsError, ShopValues, save
    from regulars.web.users import create_user

    with session_scope(store_engine) as session:
        with pytest.raises(InvalidShopSettingsError) as refused:
            save(session, ShopValues(name="Café\x00"), actor="test")
        assert "control characters" in refused.value.errors["name"]
        with pytest.raises(RegularsError, match="control characters"):
            create_user(session, "bad\x00name", "a long enough password", "viewer", actor="t")
