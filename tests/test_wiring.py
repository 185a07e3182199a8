"""The composition root installs every domain's contributions, in the documented order."""

from __future__ import annotations

from regulars import wiring
from regulars.api.schemas.customers import CustomerIn
from regulars.customers.profile import PROFILE_FIELDS
from regulars.domain import Contribution


def test_every_domain_is_installed_once() -> None:
    names = [c.domain for c in wiring.CONTRIBUTIONS]
    assert names == ["customers", "scoring", "loyalty"]
    assert all(isinstance(c, Contribution) for c in wiring.CONTRIBUTIONS)


def test_the_product_runs_every_job() -> None:
    assert wiring.job_registry().kinds() == [
        "jobs.prune",
        "loyalty.expire",
        "loyalty.expiry_warnings",
        "loyalty.gifts",
        "loyalty.memberships",
        "loyalty.referrals",
        "loyalty.tiers",
        "loyalty.webhooks",
        "scores.refresh",
    ]


def test_merge_rules_run_store_first_then_scores_then_loyalty() -> None:
    assert list(wiring.MERGE_RULES) == [
        "orders",
        "returns",
        "events",
        "aliases",
        "consents",
        "scores_dropped",
        "loyalty_accounts",
        "loyalty_rewards",
        "loyalty_badges",
        "loyalty_tier_states",
        "loyalty_memberships",
        "loyalty_referrals",
        "loyalty_donations",
        "loyalty_partner_transactions",
        "loyalty_draw_winners",
        "loyalty_draw_entrants",
    ]


def test_hooks_and_sections_of_the_domains() -> None:
    assert len(wiring.ORDER_RECORDED) == 2  # loyalty: earn, give back redemptions
    assert len(wiring.RETURN_RECORDED) == 1
    assert len(wiring.EVENT_RECORDED) == 2  # loyalty: review bonus, review badges
    assert len(wiring.PROFILE_SAVED) == 1
    assert list(wiring.SECTIONS) == ["scores", "loyalty"]


def test_the_api_profile_is_the_domain_profile() -> None:
    """The API's customer body carries exactly the profile fields the hooks compare."""
    body_fields = [f for f in CustomerIn.model_fields if f not in ("customer_id", "attributes")]
    assert tuple(f for f in body_fields if f != "consents") == PROFILE_FIELDS
