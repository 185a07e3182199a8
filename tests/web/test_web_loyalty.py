"""The Loyalty pages: programs of several types created and edited through the form (the
API's validation, errors beside the fields with what was typed kept, the rules in plain
words), the program page's members, rewards and referrals, and its economics, effect and
what-if fragments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from web_helpers import LATEST, csrf_of

from regulars.loyalty.catalogue import ProgramSpec, create_program, find_program
from regulars.loyalty.points.redemption import adjust
from regulars.store.session import session_scope
from regulars.store.tables import AuditEntry, Customer, Order

POINTS_FORM = {
    "type": "points",
    "code": "stars",
    "name": "Stars",
    "shortfall_policy": "allow_negative",
    "config.earn_per_unit": "1",
    "config.point_value": "0.01",
    "config.pending_days": "14",
    "config.expiry_days": "365",
    "config.max_redeem_share": "0.5",
    "config.control_share": "0",
    "config.default_time_zone": "UTC",
    "config.bonuses": "[]",
}


def _post(client: TestClient, path: str, data: dict[str, str]) -> Any:
    token = csrf_of(client.get("/loyalty").text)
    return client.post(path, data={"csrf_token": token, **data})


def _audit(store_engine: Engine, action: str) -> list[AuditEntry]:
    with session_scope(store_engine) as session:
        found = session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
        session.expunge_all()
        return list(found)


def test_the_form_of_each_type_starts_from_a_valid_example(
    login: Callable[[str], TestClient],
) -> None:
    client = login("marketer")
    for program_type, words in [
        ("points", "1 points per"),
        ("discount_card", "% off every order"),
        ("stamp_card", "stamps give one free item"),
        ("tiers", "Gold: from"),
        ("referral", "The referrer gets 500 points"),
        ("membership", "Plan monthly"),
        ("charity", ""),
        ("draw", ""),
    ]:
        page = client.get(f"/loyalty/new?type={program_type}")
        assert page.status_code == 200, program_type
        assert f'name="type" value="{program_type}"' in page.text
        assert words in page.text, program_type


def test_preview_then_create_a_points_program(
    login: Callable[[str], TestClient], store_engine: Engine
) -> None:
    client = login("marketer")
    preview = _post(client, "/loyalty/new", {**POINTS_FORM, "intent": "preview"})
    assert preview.status_code == 200
    assert "1 points per" in preview.text
    assert "100 points = " in preview.text
    assert "Points expire after 365 days." in preview.text
    assert find_program_of(store_engine, "stars") is None  # a preview saves nothing
    saved = _post(client, "/loyalty/new", {**POINTS_FORM, "intent": "save"})
    assert (saved.status_code, saved.headers["location"]) == (303, "/loyalty/stars")
    page = client.get("/loyalty/stars").text
    assert "<h1>Stars</h1>" in page
    assert "No member yet" in page
    [entry] = _audit(store_engine, "loyalty.program.create")
    assert (entry.actor, entry.target_id) == ("user:marketer", "stars")


def find_program_of(store_engine: Engine, code: str) -> str | None:
    with session_scope(store_engine) as session:
        found = find_program(session, code)
        return None if found is None else found.type


def test_create_a_discount_card_and_a_stamp_card(
    login: Callable[[str], TestClient], store_engine: Engine
) -> None:
    client = login("owner")
    card = {
        "type": "discount_card",
        "code": "card",
        "name": "Card",
        "shortfall_policy": "allow_negative",
        "config.steps": '[{"threshold": "0", "pct": "3"}, {"threshold": "500", "pct": "5"}]',
        "config.window_days": "",
        "intent": "save",
    }
    assert _post(client, "/loyalty/new", card).status_code == 303
    card_page = client.get("/loyalty/card").text
    assert "From 500.00 spent: 5 % off every order." in card_page
    stamps = {
        "type": "stamp_card",
        "code": "coffee",
        "name": "Coffee card",
        "shortfall_policy": "allow_negative",
        "config.code": "coffee",
        "config.categories": "coffee, tea",
        "config.skus": "",
        "config.stamps_required": "5",
        "intent": "save",
    }
    assert _post(client, "/loyalty/new", stamps).status_code == 303
    page = client.get("/loyalty/coffee").text
    assert "A stamp for each purchase of: coffee, tea." in page
    assert (find_program_of(store_engine, "card"), find_program_of(store_engine, "coffee")) == (
        "discount_card",
        "stamp_card",
    )


def test_errors_are_beside_the_fields_and_keep_what_was_typed(
    login: Callable[[str], TestClient], store_engine: Engine
) -> None:
    client = login("marketer")
    bad = {
        **POINTS_FORM,
        "name": "My typed name",
        "config.earn_per_unit": "-2",
        "config.bonuses": "[{oops",
        "starts_on": "31/12/2026",
        "intent": "save",
    }
    answer = _post(client, "/loyalty/new", bad)
    assert answer.status_code == 422
    text = answer.text
    assert 'id="c-earn_per_unit" name="config.earn_per_unit" value="-2"' in text
    assert 'aria-describedby="e-earn_per_unit"' in text
    assert "greater than or equal to 0" in text
    assert "Not valid JSON" in text
    assert "[{oops</textarea>" in text
    assert 'value="My typed name"' in text
    assert "Enter a date as YYYY-MM-DD." in text
    crossed = _post(
        client,
        "/loyalty/new",
        {**POINTS_FORM, "config.expiry_days": "5", "config.pending_days": "10", "intent": "save"},
    )
    assert crossed.status_code == 422
    assert "expiry_days must be more than pending_days" in crossed.text
    assert _post(client, "/loyalty/new", {**POINTS_FORM, "intent": "save"}).status_code == 303
    taken = _post(client, "/loyalty/new", {**POINTS_FORM, "intent": "save"})
    assert taken.status_code == 409
    assert 'aria-describedby="e-code"' in taken.text
    assert find_program_of(store_engine, "stars") == "points"


def test_edit_a_program_then_pause_it(
    login: Callable[[str], TestClient], program: str, store_engine: Engine
) -> None:
    client = login("marketer")
    form = client.get(f"/loyalty/{program}/edit").text
    assert 'id="p-code" name="code" value="club" maxlength="64" readonly' in form
    assert 'name="config.control_share" value="0" inputmode="decimal" readonly' in form
    values = {
        "name": "Club Plus",
        "shortfall_policy": "allow_negative",
        **{k: v for k, v in POINTS_FORM.items() if k.startswith("config.")},
        "config.earn_per_unit": "2",
    }
    preview = _post(client, f"/loyalty/{program}/edit", {**values, "intent": "preview"})
    assert "2 points per" in preview.text
    assert "Points already earned stay as they are" in preview.text
    saved = _post(client, f"/loyalty/{program}/edit", {**values, "intent": "save"})
    assert (saved.status_code, saved.headers["location"]) == (303, f"/loyalty/{program}")
    assert "Club Plus" in client.get(f"/loyalty/{program}").text
    [entry] = _audit(store_engine, "loyalty.program.update")
    assert entry.actor == "user:marketer"
    assert entry.details["changed"]["config.earn_per_unit"] == ["1", "2"]
    refused = _post(client, f"/loyalty/{program}/edit", {**values, "config.control_share": "0.2"})
    assert refused.status_code == 422
    assert "control_share cannot change once the program has started" in refused.text
    assert 'value="0.2"' in refused.text
    paused = _post(client, f"/loyalty/{program}/state", {"action": "pause"})
    assert paused.status_code == 303
    assert "paused" in client.get(f"/loyalty/{program}").text
    ended = _post(client, f"/loyalty/{program}/state", {"action": "end", "confirm": "yes"})
    assert ended.status_code == 303
    assert client.get(f"/loyalty/{program}/edit").status_code == 409
    assert client.get("/loyalty/nope/edit").status_code == 404


def test_members_are_searched_sorted_and_paged(
    login: Callable[[str], TestClient], shop: None, program: str, store_engine: Engine
) -> None:
    with session_scope(store_engine) as session:
        club = find_program(session, program)
        assert club is not None
        for n, customer in enumerate(["c1", "c2", "c4"]):
            adjust(session, club, customer, 100 * (n + 1), reason="welcome", actor="t", key=f"k{n}")
    client = login("viewer")
    page = client.get(f"/loyalty/{program}?sort=-balance").text
    assert page.index("Dana Lee") < page.index("Boris Petrov") < page.index("Anna Ivanova")
    assert 'href="/customers/c1"' in page
    ascending = client.get(f"/loyalty/{program}?sort=balance").text
    assert ascending.index("Anna Ivanova") < ascending.index("Dana Lee")
    found = client.get(f"/loyalty/{program}?q=anna").text
    assert "Anna Ivanova" in found
    assert "Boris Petrov" not in found
    assert "No member matches" in client.get(f"/loyalty/{program}?q=zzz").text
    bad = client.get(f"/loyalty/{program}?sort=nonsense")
    assert bad.status_code == 200
    assert "Choose a sort from the list." in bad.text
    assert client.get(f"/loyalty/{program}?page=0").status_code == 422
    assert "Page 1 of 1" not in page  # one page: no pager
    assert client.get("/loyalty/nope").status_code == 404


def test_economics_effect_and_simulation_fragments(
    login: Callable[[str], TestClient], shop: None, program: str, store_engine: Engine
) -> None:
    with session_scope(store_engine) as session:
        club = find_program(session, program)
        assert club is not None
        adjust(session, club, "c1", 250, reason="welcome", actor="t", key="k")
    client = login("agent")
    economics = client.get(f"/loyalty/{program}/economics").text
    assert "Liability" in economics
    assert "250" in economics
    effect = client.get(f"/loyalty/{program}/effect?start=2026-11-01&end=2026-12-01").text
    assert "has no control group" in effect
    assert "YYYY-MM-DD" in client.get(f"/loyalty/{program}/effect?start=x&end=").text
    sim = client.get(
        f"/loyalty/{program}/simulate?earn_per_unit=2&point_value=0.01&enrolment_share=1"
    ).text
    assert "Program cost" in sim
    assert "Over " in sim  # the verdict sentence
    bad = client.get(f"/loyalty/{program}/simulate?earn_per_unit=-1&redeemer_share=2")
    assert 'id="s-earn_per_unit" name="earn_per_unit" value="-1"' in bad.text
    assert 'aria-describedby="se-redeemer_share"' in bad.text
    assert "Program cost" not in bad.text
    # Days at the calendar's edge are refused by name, never a server error.
    edge = client.get(f"/loyalty/{program}/simulate?start=0001-01-01&end=9999-12-31")
    assert edge.status_code == 200
    assert "YYYY-MM-DD" in edge.text
    assert "Program cost" not in edge.text
    edge_effect = client.get(f"/loyalty/{program}/effect?start=0001-01-01&end=9999-12-31")
    assert (edge_effect.status_code, "YYYY-MM-DD" in edge_effect.text) == (200, True)


def test_a_card_program_has_no_points_economics(
    login: Callable[[str], TestClient], store_engine: Engine
) -> None:
    client = login("owner")
    card = {
        "type": "discount_card",
        "code": "card",
        "name": "Card",
        "shortfall_policy": "allow_negative",
        "config.steps": '[{"threshold": "0", "pct": "3"}]',
        "intent": "save",
    }
    assert _post(client, "/loyalty/new", card).status_code == 303
    assert "keeps no points" in client.get("/loyalty/card/economics").text


def test_the_effect_says_when_there_is_not_enough_data(
    login: Callable[[str], TestClient], shop: None, store_engine: Engine
) -> None:
    with session_scope(store_engine) as session:
        create_program(
            session,
            ProgramSpec(
                code="held",
                name="Held out",
                type="points",
                config={"earn_per_unit": "1", "point_value": "0.01", "control_share": "0.5"},
                starts_at=LATEST - timedelta(days=365),
            ),
        )
        for n in range(20):  # bought before the period; half of them again in it
            session.add(Customer(customer_id=f"h{n}", name=f"Held {n}"))
            session.flush()
            for k, days in enumerate([60, 10] if n % 2 else [60]):
                session.add(
                    Order(
                        order_id=f"h{n}-{k}",
                        customer_id=f"h{n}",
                        ordered_at=LATEST - timedelta(days=days),
                        amount=Decimal("25.00"),
                        refunded_amount=Decimal(0),
                        status="completed",
                        currency="EUR",
                    )
                )
    client = login("viewer")
    start = (LATEST - timedelta(days=30)).date().isoformat()
    end = (LATEST + timedelta(days=1)).date().isoformat()
    effect = client.get(f"/loyalty/held/effect?start={start}&end={end}").text
    assert "Not enough data" in effect
    assert "Members" in effect
    before = client.get("/loyalty/held/effect?start=2020-01-01&end=2020-02-01").text
    assert "before program" in before


def test_members_come_in_pages_of_25(
    login: Callable[[str], TestClient], program: str, store_engine: Engine
) -> None:
    with session_scope(store_engine) as session:
        club = find_program(session, program)
        assert club is not None
        for n in range(27):
            session.add(Customer(customer_id=f"m{n:02}", name=f"Member {n:02}"))
        session.flush()
        for n in range(27):
            adjust(session, club, f"m{n:02}", n + 1, reason="welcome", actor="t", key=f"k{n}")
    client = login("viewer")
    first = client.get(f"/loyalty/{program}?sort=customer").text
    assert "Page 1 of 2" in first
    assert "Member 00" in first
    assert "Member 26" not in first
    second = client.get(f"/loyalty/{program}?sort=customer&page=2").text
    assert "Member 26" in second
    assert "Member 00" not in second
    assert "sort=customer&amp;page=1" in second  # the pager keeps the sort
