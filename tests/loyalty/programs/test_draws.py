"""Prize draws: eligibility by rule and a seeded draw anyone can re-run."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regulars.loyalty.program_types.draws import DrawConfig, Entrant, draw, eligible, new_seed
from regulars.loyalty.program_types.history import Purchase

MAY = DrawConfig(
    code="may-2026",
    starts_at=datetime(2026, 5, 1, tzinfo=UTC),
    ends_at=datetime(2026, 6, 1, tzinfo=UTC),
    min_purchases=1,
    winners=2,
    prize="espresso machine",
)


def test_eligibility_by_rule() -> None:
    """Opted-in buyers in May: ann and cat; bob did not opt in; dan bought in June only;
    eve's only May order was a zero-amount one."""
    may = datetime(2026, 5, 10, tzinfo=UTC)
    purchases = [
        Purchase("1", "cat", may, Decimal(5)),
        Purchase("2", "ann", may, Decimal(12)),
        Purchase("3", "bob", may, Decimal(40)),
        Purchase("4", "dan", datetime(2026, 6, 1, tzinfo=UTC), Decimal(9)),
        Purchase("5", "eve", may, Decimal(0)),
    ]
    entrants = [Entrant(c, c != "bob") for c in ["cat", "ann", "bob", "dan", "eve"]]
    assert eligible(MAY, entrants, purchases) == ["ann", "cat"]
    open_to_all = MAY.model_copy(update={"require_opt_in": False, "min_spend": Decimal(10)})
    assert eligible(open_to_all, entrants, purchases) == ["ann", "bob"]


def test_draw_is_the_documented_algorithm() -> None:
    """Winners are the k smallest SHA-256(seed + "\\n" + id) tickets, re-computed here with
    hashlib alone, as an auditor would."""
    ids = [f"c{i:03d}" for i in range(50)]
    seed = "4f1c0d9e2b7a6c5d8e9f0a1b2c3d4e5f"
    expected = sorted(ids, key=lambda c: hashlib.sha256(f"{seed}\n{c}".encode()).hexdigest())[:2]
    result = draw(MAY, reversed(ids), seed)
    assert result.winners == expected
    assert result.eligible_count == 50
    assert result.eligible_sha256 == hashlib.sha256("\n".join(ids).encode()).hexdigest()
    assert [p.key for p in result.prizes] == [f"draw:may-2026:{c}" for c in expected]


def test_fewer_eligible_than_prizes_and_seed_required() -> None:
    assert draw(MAY, ["solo"], "s").winners == ["solo"]
    assert draw(MAY, [], "s").winners == []
    with pytest.raises(ValueError, match="seed"):
        draw(MAY, ["a"], "")
    assert len(new_seed()) == 32
    assert new_seed() != new_seed()


@given(
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=30, unique=True),
    st.text(min_size=1, max_size=20),
    st.integers(min_value=1, max_value=10),
    st.randoms(use_true_random=False),
)
def test_same_seed_same_winners_in_any_order_without_replacement(
    ids: list[str], seed: str, k: int, rnd: object
) -> None:
    config = MAY.model_copy(update={"winners": k})
    shuffled = list(ids)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    first, again = draw(config, ids, seed), draw(config, shuffled, seed)
    assert first.winners == again.winners
    assert len(set(first.winners)) == len(first.winners) == min(k, len(ids))
    assert set(first.winners) <= set(ids)


def test_different_seeds_spread_the_wins() -> None:
    """Over 400 seeds, each of 4 customers wins a 1-prize draw roughly a quarter of the time
    (binomial 400 × 0.25 = 100, sd ≈ 8.7; the bounds are > 4 sd)."""
    config = MAY.model_copy(update={"winners": 1})
    wins = dict.fromkeys("abcd", 0)
    for i in range(400):
        wins[draw(config, list("abcd"), f"seed-{i}").winners[0]] += 1
    assert all(60 <= n <= 140 for n in wins.values()), wins
