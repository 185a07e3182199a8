"""What the ``/v1/loyalty`` endpoints do: call the loyalty domain, turn its results into
response bodies and its errors into problem details."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime

import pydantic
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from regulars.api.problems import ApiProblemError
from regulars.api.schemas import Page
from regulars.api.schemas.loyalty import (
    AccountOut,
    AdjustIn,
    BadgeOut,
    CancellationOut,
    CancelRedemptionIn,
    EntryOut,
    LotOut,
    PostedOut,
    ProgramIn,
    ProgramOut,
    ProgramPatchIn,
    ProgramQuoteOut,
    QuoteIn,
    QuoteOut,
    RedeemIn,
    RedeemRewardIn,
    RewardOut,
    TierOut,
    WebhookIn,
    WebhookOut,
)
from regulars.api.services.common import paginate
from regulars.clock import utcnow
from regulars.errors import RegularsError
from regulars.loyalty import catalogue, webhooks
from regulars.loyalty.accounting import enrolment
from regulars.loyalty.accounting.ledger import OrderRef, Posted
from regulars.loyalty.economics import ledger_mapping
from regulars.loyalty.economics.holdout import ProgramEffect
from regulars.loyalty.economics.ledger_mapping import LiveEconomics
from regulars.loyalty.errors import (
    AccountClosedError,
    ControlGroupError,
    HouseholdSpendError,
    IdempotencyConflictError,
    InsufficientPointsError,
    LedgerError,
    ProgramError,
    RedemptionCapError,
    RedemptionNotFoundError,
)
from regulars.loyalty.points import cancellation, redemption
from regulars.loyalty.points import views as points_views
from regulars.loyalty.program_store import quote as program_quote
from regulars.loyalty.program_store import rewards as program_rewards
from regulars.loyalty.program_store.tables import LoyaltyReward
from regulars.loyalty.program_types.history import OrderLine
from regulars.loyalty.tables import LoyaltyEntry, LoyaltyProgram, LoyaltyWebhookEndpoint
from regulars.store.audit import record
from regulars.store.tables import ApiKey, Customer


@contextmanager
def _as_problems() -> Iterator[None]:
    """Domain errors as problem details: a balance that does not cover a redemption and a
    reused idempotency key are 409 Conflict (the request is fine, the account's state is
    not); a household member the spend policy does not allow to redeem it is 403; invalid
    values are 422."""
    try:
        yield
    except InsufficientPointsError as exc:
        raise ApiProblemError(
            409, str(exc), kind=exc.kind, requested=exc.requested, available=exc.available
        ) from None
    except HouseholdSpendError as exc:
        raise ApiProblemError(403, str(exc), kind=exc.kind) from None
    except RedemptionCapError as exc:
        raise ApiProblemError(
            409, str(exc), kind=exc.kind, requested=exc.requested, cap=exc.cap
        ) from None
    except (IdempotencyConflictError, AccountClosedError, LedgerError) as exc:
        raise ApiProblemError(409, str(exc), kind=exc.kind) from None
    except ControlGroupError as exc:
        raise ApiProblemError(409, str(exc), kind="control-group") from None
    except (ValueError, ProgramError) as exc:
        raise ApiProblemError(422, str(exc), kind="invalid-value") from None


def actor(key: ApiKey) -> str:
    return f"apikey:{key.prefix}"


def _program(session: Session, code: str | None) -> LoyaltyProgram:
    if code is None:
        program = catalogue.default_program(session)
        if program is None:
            raise ApiProblemError(404, "no active loyalty program", kind="not-found")
        return program
    found = catalogue.find_program(session, code)
    if found is None:
        raise ApiProblemError(404, f"no loyalty program '{code}'", kind="not-found")
    return found


def _customer(session: Session, customer_id: str) -> None:
    if session.scalar(select(Customer.id).where(Customer.customer_id == customer_id)) is None:
        raise ApiProblemError(404, f"no customer '{customer_id}'", kind="not-found")


def _program_out(program: LoyaltyProgram) -> ProgramOut:
    out = ProgramOut.model_validate(program, from_attributes=True)
    return out.model_copy(update={"state": catalogue.program_state(program, utcnow())})


def config_problem(exc: pydantic.ValidationError) -> ApiProblemError:
    """A config its type's model refuses, as a 422 naming each field (``config.<loc>``)."""
    errors = [
        {
            "in": "body",
            "field": ".".join(["config", *(str(p) for p in e["loc"])]),
            "message": e["msg"],
            "type": e["type"],
        }
        for e in exc.errors()
    ]
    return ApiProblemError(
        422, "the program config is not valid; see errors", kind="validation-error", errors=errors
    )


def create_program(session: Session, body: ProgramIn, *, actor: str) -> ProgramOut:
    """Create a program; 409 when the code is taken, 422 for a config its type refuses."""
    if catalogue.find_program(session, body.code) is not None:
        raise ApiProblemError(409, f"a program with code '{body.code}' exists", kind="conflict")
    spec = catalogue.ProgramSpec(**body.model_dump())
    try:
        program = catalogue.create_program(session, spec)
    except pydantic.ValidationError as exc:
        raise config_problem(exc) from None
    except ProgramError as exc:
        raise ApiProblemError(422, str(exc), kind="invalid-program") from None
    record(
        session,
        actor=actor,
        action="loyalty.program.create",
        target_type="loyalty_program",
        target_id=program.code,
        details={"type": program.type, "config": program.config},
    )
    return _program_out(program)


def patch_changes(body: ProgramPatchIn) -> catalogue.ProgramChanges:
    """The API's PATCH body as changes: ``ends_at: null`` given removes a planned end."""
    return catalogue.ProgramChanges(
        name=body.name,
        config=body.config,
        currency=body.currency,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        clear_ends_at="ends_at" in body.model_fields_set and body.ends_at is None,
        shared_household=body.shared_household,
        shortfall_policy=body.shortfall_policy,
    )


def update_program(
    session: Session, code: str, changes: catalogue.ProgramChanges, *, actor: str
) -> ProgramOut:
    """Change a program (:func:`catalogue.update_program`), recorded in the audit log as
    ``loyalty.program.update`` with each change's old and new value (nothing recorded when
    nothing changed). 404 for an unknown program, 409 for an ended one, 422 for a change
    its type refuses or that a started program does not allow."""
    program = _program(session, code)
    try:
        changed = catalogue.update_program(session, program, changes)
    except catalogue.ProgramEndedError as exc:
        raise ApiProblemError(409, str(exc), kind="conflict") from None
    except pydantic.ValidationError as exc:
        raise config_problem(exc) from None
    except ProgramError as exc:
        raise ApiProblemError(422, str(exc), kind="invalid-program") from None
    if changed:
        record(
            session,
            actor=actor,
            action="loyalty.program.update",
            target_type="loyalty_program",
            target_id=program.code,
            details={
                "changed": {
                    k: [_jsonable(old), _jsonable(new)] for k, (old, new) in changed.items()
                }
            },
        )
    return _program_out(program)


def _jsonable(value: object) -> object:
    """An audit detail: times as ISO 8601, the rest as stored (config values are JSON)."""
    return value.isoformat() if isinstance(value, datetime) else value


def list_programs(session: Session) -> list[ProgramOut]:
    return [_program_out(p) for p in catalogue.list_programs(session)]


def change_program_state(session: Session, code: str, action: str, *, actor: str) -> ProgramOut:
    """Pause, resume or end the program ``code`` (:func:`catalogue.change_program_state`);
    a change is recorded in the audit log (``loyalty.program.pause``…), a repeated pause or
    resume changes and records nothing. 404 for an unknown program, 409 for an ended one."""
    program = _program(session, code)
    try:
        changed = catalogue.change_program_state(session, program, action)
    except ProgramError as exc:
        raise ApiProblemError(409, str(exc), kind="conflict") from None
    if changed:
        session.flush()
        record(
            session,
            actor=actor,
            action=f"loyalty.program.{action}",
            target_type="loyalty_program",
            target_id=program.code,
        )
    return _program_out(program)


def get_account(session: Session, customer_id: str, program_code: str | None) -> AccountOut:
    _customer(session, customer_id)
    view = points_views.account_view(session, _program(session, program_code), customer_id)
    return AccountOut(
        customer_id=customer_id,
        program=view.program,
        state=view.state,
        balance=view.balance,
        available=view.available,
        pending=view.pending,
        debt=view.debt,
        overdraft=view.overdraft,
        tier=view.tier,
        lots=[LotOut.model_validate(lot, from_attributes=True) for lot in view.lots],
        tiers=club_tiers(session, customer_id),
    )


def list_entries(
    session: Session, customer_id: str, program_code: str | None, limit: int, cursor: str | None
) -> Page[EntryOut]:
    _customer(session, customer_id)
    program = _program(session, program_code)
    account = enrolment.find_account(session, program, customer_id)
    if account is None:
        return Page[EntryOut](items=[], next_cursor=None)
    return paginate(
        session,
        points_views.entries_query(account.id),
        LoyaltyEntry.id,
        limit=limit,
        cursor=cursor,
        newest_first=True,
        render=lambda rows: [_entry(e) for e in rows],
    )


def _entry(e: LoyaltyEntry) -> EntryOut:
    return EntryOut(
        entry_id=e.id,
        kind=e.kind,
        points=e.points,
        money=e.money,
        shop_id=e.shop_id,
        order_id=e.order_id,
        return_id=e.return_id,
        lot_id=e.lot_id,
        actor=e.actor,
        customer_id=e.customer_id,
        reason=e.reason,
        occurred_at=e.occurred_at,
        created_at=e.created_at,
    )


def _posted(posted: Posted) -> PostedOut:
    return PostedOut(
        entry_id=posted.entry_id,
        kind=posted.kind,
        points=posted.points,
        money=posted.money,
        balance=posted.balance,
    )


def _write(call: Callable[[], Posted]) -> tuple[PostedOut, bool]:
    with _as_problems():
        posted = call()
    return _posted(posted), not posted.replay


def adjust(
    session: Session, customer_id: str, body: AdjustIn, key: ApiKey, idempotency_key: str
) -> tuple[PostedOut, bool]:
    """A manual credit or debit; returns the entry and whether this call created it."""
    _customer(session, customer_id)
    program = _program(session, body.program)
    return _write(
        lambda: redemption.adjust(
            session,
            program,
            customer_id,
            body.points,
            reason=body.reason,
            actor=actor(key),
            key=f"{key.prefix}:{idempotency_key}",
        )
    )


def redeem(
    session: Session, customer_id: str, body: RedeemIn, key: ApiKey, idempotency_key: str
) -> tuple[PostedOut, bool]:
    """Spend points atomically; returns the entry and whether this call created it."""
    _customer(session, customer_id)
    program = _program(session, body.program)
    order = OrderRef(body.shop_id, body.order_id) if body.order_id else None
    return _write(
        lambda: redemption.redeem(
            session,
            program,
            customer_id,
            body.points,
            key=f"{key.prefix}:{idempotency_key}",
            actor=actor(key),
            order=order,
            order_amount=body.order_amount,
        )
    )


def cancel_redemption(
    session: Session, customer_id: str, key: str, body: CancelRedemptionIn, api_key: ApiKey
) -> tuple[CancellationOut, bool]:
    """Cancel the redemption this API key made with Idempotency-Key ``key``; returns the
    cancellation and whether this call wrote it. 404 for an unknown customer, program or
    redemption."""
    _customer(session, customer_id)
    program = _program(session, body.program)
    with _as_problems():
        try:
            done = cancellation.cancel_redemption(
                session,
                program,
                customer_id,
                f"{api_key.prefix}:{key}",
                actor=actor(api_key),
                reason=body.reason,
            )
        except RedemptionNotFoundError:  # named as the client knows it
            raise ApiProblemError(
                404,
                f"no redemption by this API key with Idempotency-Key '{key}' in the account "
                f"of '{customer_id}' in program '{program.code}'",
                kind="not-found",
            ) from None
    posted = done.posted
    out = CancellationOut(
        entry_id=posted.entry_id,
        redemption_entry_id=done.spend_entry_id,
        kind=posted.kind,
        points=posted.points,
        expired=done.expired,
        clawed_back=done.clawed_back,
        money=posted.money,
        balance=posted.balance,
    )
    return out, not posted.replay


def set_state(
    session: Session, customer_id: str, program_code: str | None, opted_out: bool
) -> AccountOut:
    _customer(session, customer_id)
    program = _program(session, program_code)
    enrolment.set_opted_out(session, program, customer_id, opted_out)
    return get_account(session, customer_id, program.code)


def quote(session: Session, body: QuoteIn) -> QuoteOut:
    program = _program(session, body.program)
    lines = program_quote.cart_lines(
        [(line.line_amount, line.sku, line.category, line.quantity) for line in body.lines]
    )
    now = utcnow()
    with _as_problems():
        result = points_views.quote(session, program, body.customer_id, body.amount, lines, now)
    out = QuoteOut.model_validate(result, from_attributes=True)
    return out.model_copy(update={"programs": program_quotes(session, body, lines, now)})


# -- the other program types: quote parts, rewards, badges, tiers (loyalty.program_store) ---


def program_quotes(
    session: Session, body: QuoteIn, lines: list[OrderLine], now: datetime
) -> list[ProgramQuoteOut]:
    """The discount card, tier club and stamp card parts of a quote (reads only)."""
    parts = program_quote.quote_programs(session, body.customer_id, body.amount, lines, now)
    return [ProgramQuoteOut.model_validate(p, from_attributes=True) for p in parts]


def club_tiers(session: Session, customer_id: str) -> list[TierOut]:
    views = program_rewards.tier_views(session, customer_id)
    return [TierOut.model_validate(v, from_attributes=True) for v in views]


def _reward_out(session: Session, reward: LoyaltyReward) -> RewardOut:
    return RewardOut(
        reward_id=reward.public_id,
        program=program_rewards.program_code(session, reward.program_id),
        customer_id=reward.customer_id,
        reward_key=reward.reward_key,
        kind=reward.kind,
        gift=reward.gift,
        sku=reward.sku,
        category=reward.category,
        quantity=reward.quantity,
        reason=reward.reason,
        state=reward.state,
        issued_at=reward.issued_at,
        redeemed_at=reward.redeemed_at,
        redeemed_order_id=reward.redeemed_order_id,
        revoked_at=reward.revoked_at,
    )


def list_rewards(session: Session, customer_id: str, state: str | None) -> list[RewardOut]:
    _customer(session, customer_id)
    rewards = program_rewards.rewards_of(session, customer_id, state)
    return [_reward_out(session, r) for r in rewards]


def redeem_reward(
    session: Session, reward_id: str, body: RedeemRewardIn, key: ApiKey
) -> tuple[RewardOut, bool]:
    """Use a voucher; 404 when unknown, 422 for an order that is not its customer's, 409
    when already used or revoked."""
    try:
        done = program_rewards.redeem_reward(session, reward_id, body.order_id, body.shop_id)
    except program_rewards.RewardNotFoundError as exc:
        raise ApiProblemError(404, str(exc), kind="not-found") from None
    except program_rewards.RewardOrderError as exc:
        raise ApiProblemError(422, str(exc), kind="reward-order") from None
    except program_rewards.RewardUsedError as exc:
        raise ApiProblemError(409, str(exc), kind="reward-used", state=exc.state) from None
    if not done.replay:
        record(
            session,
            actor=actor(key),
            action="loyalty.reward.redeem",
            target_type="loyalty_reward",
            target_id=reward_id,
            details={"order_id": body.order_id},
        )
    return _reward_out(session, done.reward), not done.replay


def list_badges(session: Session, customer_id: str) -> list[BadgeOut]:
    _customer(session, customer_id)
    return [
        BadgeOut(
            program=program_rewards.program_code(session, b.program_id),
            code=b.code,
            name=b.name,
            awarded_at=b.awarded_at,
        )
        for b in program_rewards.badges_of(session, customer_id)
    ]


def program_effect(session: Session, code: str, start: date, end: date) -> ProgramEffect:
    """Members against the control group (:func:`regulars.loyalty.economics.effect.program_effect`);
    404 for an unknown program, 422 for one without a control group or an empty period."""
    from regulars.loyalty.economics.effect import program_effect as measure  # loads the analytics

    program = _program(session, code)
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    try:
        return measure(engine, program.code, start, end)
    except RegularsError as exc:
        raise ApiProblemError(422, str(exc), kind="invalid-value") from None


def program_economics(
    session: Session, code: str, start: date | None, end: date | None
) -> LiveEconomics:
    """Liability, points flow, breakage and reward cost on the live ledger
    (:func:`regulars.loyalty.economics.ledger_mapping.program_economics`); 404 for an unknown
    program, 422 for an empty period or a program that is not a points program."""
    program = _program(session, code)
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    try:
        return ledger_mapping.program_economics(engine, program.code, start, end)
    except RegularsError as exc:
        raise ApiProblemError(422, str(exc), kind="invalid-value") from None


# -- webhook endpoints (loyalty.webhooks) -------------------------------------------------


def _webhook_out(endpoint: LoyaltyWebhookEndpoint, secret: str | None = None) -> WebhookOut:
    return WebhookOut(
        endpoint_id=endpoint.id,
        url=endpoint.url,
        kinds=endpoint.kinds,
        active=endpoint.active,
        created_at=endpoint.created_at,
        secret=secret,
    )


def add_webhook(session: Session, body: WebhookIn, by: ApiKey | str) -> WebhookOut:
    """Register an endpoint; 422 for a bad url or an unknown kind. ``by``: the API key,
    or the audit name of who else acted (``user:<name>`` from the web app)."""
    try:
        endpoint_id, secret = webhooks.add_endpoint(session, body.url, kinds=body.kinds)
    except RegularsError as exc:
        raise ApiProblemError(422, str(exc), kind="invalid-value") from None
    endpoint = session.get(LoyaltyWebhookEndpoint, endpoint_id)
    assert endpoint is not None
    record(
        session,
        actor=by if isinstance(by, str) else actor(by),
        action="loyalty.webhook.add",
        target_type="loyalty_webhook",
        target_id=str(endpoint_id),
        details={"url": body.url, "kinds": endpoint.kinds},
    )
    return _webhook_out(endpoint, secret)


def list_webhooks(session: Session) -> list[WebhookOut]:
    return [_webhook_out(e) for e in webhooks.list_endpoints(session)]


def remove_webhook(session: Session, endpoint_id: int, by: ApiKey | str) -> None:
    """Deactivate an endpoint; 404 for an unknown id."""
    endpoint = webhooks.deactivate_endpoint(session, endpoint_id)
    if endpoint is None:
        raise ApiProblemError(404, f"no webhook endpoint {endpoint_id}", kind="not-found")
    record(
        session,
        actor=by if isinstance(by, str) else actor(by),
        action="loyalty.webhook.remove",
        target_type="loyalty_webhook",
        target_id=str(endpoint_id),
        details={"url": endpoint.url},
    )


def delete_webhook(session: Session, endpoint_id: int, by: ApiKey | str) -> None:
    """Delete a disabled endpoint with its deliveries; 404 for an unknown id, 409 while it
    is still active (disable it first, so nothing is on its way to it)."""
    endpoint = session.get(LoyaltyWebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise ApiProblemError(404, f"no webhook endpoint {endpoint_id}", kind="not-found")
    if endpoint.active:
        raise ApiProblemError(
            409, f"webhook endpoint {endpoint_id} is active; disable it first", kind="conflict"
        )
    url = endpoint.url
    webhooks.delete_endpoint(session, endpoint)
    record(
        session,
        actor=by if isinstance(by, str) else actor(by),
        action="loyalty.webhook.delete",
        target_type="loyalty_webhook",
        target_id=str(endpoint_id),
        details={"url": url},
    )


def webhook_deliveries(session: Session) -> dict[int, webhooks.DeliveryStatus]:
    """Each endpoint's deliveries: how many per state, the latest success and error."""
    return webhooks.delivery_status(session)
