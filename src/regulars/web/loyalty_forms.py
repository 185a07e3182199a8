"""The program form of the Loyalty pages: its fields read off each program type's config
model (:data:`regulars.loyalty.program_types.PROGRAM_MODELS`, the one registry the API
validates with), what was typed turned back into a config, and the rules in plain words.

No rule is written here: a field's kind comes from its annotation, its help from its
``Field(description=...)``, and every value is validated by the type's own model (through
:func:`regulars.loyalty.catalogue.validate_config` and the API's service), so the form
accepts exactly what ``POST /v1/loyalty/programs`` accepts.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from regulars.loyalty.program_types import PROGRAM_MODELS
from regulars.loyalty.program_types.bonus import PointsProgramConfig
from regulars.loyalty.program_types.discount_card import DiscountCardConfig
from regulars.loyalty.program_types.membership import MembershipConfig
from regulars.loyalty.program_types.referral import ReferralConfig
from regulars.loyalty.program_types.stamp_card import StampCardConfig
from regulars.loyalty.program_types.tiers import TierClubConfig
from regulars.web.i18n import N_

FieldKind = Literal["text", "number", "checkbox", "select", "list", "json"]
CONFIG_PREFIX = "config."

TYPE_LABELS: dict[str, str] = {
    "points": N_("Points (bonus, cashback)"),
    "discount_card": N_("Discount card"),
    "stamp_card": N_("Stamp card"),
    "tiers": N_("Tiers (VIP club)"),
    "referral": N_("Referral"),
    "membership": N_("Paid membership"),
    "coalition": N_("Coalition (partners)"),
    "charity": N_("Charity"),
    "gifts": N_("Gifts"),
    "draw": N_("Prize draw"),
    "badges": N_("Badges"),
}

STARTERS: dict[str, dict[str, Any]] = {
    "points": {"earn_per_unit": "1", "point_value": "0.01"},
    "discount_card": {
        "steps": [{"threshold": "0", "pct": "3"}, {"threshold": "500", "pct": "5"}],
    },
    "stamp_card": {"code": "coffee", "categories": ["coffee"], "stamps_required": 5},
    "tiers": {
        "code": "club",
        "tiers": [
            {"name": "Silver", "threshold": "300", "earn_multiplier": "1.25"},
            {"name": "Gold", "threshold": "1000", "earn_multiplier": "1.5", "discount_pct": "5"},
        ],
    },
    "referral": {"referrer_points": 500, "referee_points": 300},
    "membership": {
        "code": "plus",
        "plans": [{"code": "monthly", "price": "4.99", "period": "month", "earn_multiplier": "2"}],
    },
}
"""A config to start the form from, per type: a small valid example the user edits (the
other types start from their model's defaults)."""


@dataclass(frozen=True)
class ConfigField:
    """One field of a type's config as the form shows it."""

    name: str
    kind: FieldKind
    required: bool
    optional: bool  # may be empty (None)
    help: str
    choices: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        if self.name == "code":  # not the program's own code, which the form also has
            return "Rules code"
        return self.name.replace("_", " ").capitalize()

    @property
    def input_name(self) -> str:
        return CONFIG_PREFIX + self.name


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``Annotated`` and ``| None``, and whether None was allowed."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        inner, _ = _unwrap(args[0]) if len(args) == 1 else (annotation, False)
        return inner, optional
    return annotation, False


def _kind(annotation: Any) -> tuple[FieldKind, tuple[str, ...]]:
    if get_origin(annotation) is Literal:
        return "select", tuple(str(a) for a in get_args(annotation))
    if annotation is bool:
        return "checkbox", ()
    if annotation in (int, float, Decimal):
        return "number", ()
    if annotation is str:
        return "text", ()
    if get_origin(annotation) in (list, set, frozenset):
        item, _ = _unwrap(get_args(annotation)[0])
        if item is str:
            return "list", ()
    return "json", ()


def _field(name: str, info: FieldInfo) -> ConfigField:
    annotation, optional = _unwrap(info.annotation)
    kind, choices = _kind(annotation)
    return ConfigField(
        name=name,
        kind=kind,
        required=info.is_required(),
        optional=optional,
        help=info.description or "",
        choices=choices,
    )


def config_fields(program_type: str) -> list[ConfigField]:
    """The form fields of ``program_type``'s config, in the model's order (no ``type``)."""
    model = PROGRAM_MODELS[program_type]
    return [_field(name, info) for name, info in model.model_fields.items() if name != "type"]


def _as_text(field: ConfigField, value: Any) -> str:
    if value is None:
        return ""
    if field.kind == "checkbox":
        return "yes" if value else ""
    if field.kind == "list":
        return ", ".join(str(v) for v in value)
    if field.kind == "json":
        return json.dumps(value, ensure_ascii=False, indent=1)
    return str(value)


def form_values(program_type: str, config: Mapping[str, Any]) -> dict[str, str]:
    """What the form shows for a stored (or starter) config: each field as text, a field
    not in ``config`` at its model default."""
    model = PROGRAM_MODELS[program_type]
    values = {}
    for field in config_fields(program_type):
        info = model.model_fields[field.name]
        if field.name in config:
            value = config[field.name]
        elif info.is_required():
            value = None
        else:
            value = info.get_default(call_default_factory=True)
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        elif isinstance(value, frozenset | set):
            value = sorted(value)
        values[field.input_name] = _as_text(field, value)
    return values


def starter_values(program_type: str) -> dict[str, str]:
    return form_values(program_type, STARTERS.get(program_type, {}))


def parse_config(
    program_type: str, form: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The config typed into the form, and the fields that could not even be read
    (``{name: message}``: JSON that does not parse). Values stay text: the type's model
    parses and validates them."""
    config: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in config_fields(program_type):
        raw = form.get(field.input_name, "").strip()
        if field.kind == "checkbox":
            config[field.name] = raw == "yes"
        elif field.kind == "list":
            config[field.name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif not raw:
            if field.optional:
                config[field.name] = None
        elif field.kind == "json":
            try:
                config[field.name] = json.loads(raw)
            except json.JSONDecodeError as exc:
                errors[field.name] = f"Not valid JSON: {exc.msg} (line {exc.lineno})."
        else:
            config[field.name] = raw
    return config, errors


def field_errors(problems: list[dict[str, Any]]) -> dict[str, str]:
    """The API's ``errors`` (``config.<field>.<…>``) by form field; an error of the whole
    config (its rules across fields) is under ``config``."""
    errors: dict[str, str] = {}
    for problem in problems:
        parts = str(problem["field"]).split(".")
        name = parts[1] if len(parts) > 1 and parts[0] == "config" else parts[0]
        where = ".".join(parts[2:])
        message = str(problem["message"]).removeprefix("Value error, ")
        text = f"{where}: {message}" if where else message
        errors.setdefault(name, text)
    return errors


def _n(value: Decimal) -> str:
    """A number as people write it: 50, not 5E+1 or 50.0000."""
    return f"{value.normalize():f}"


def _pct(value: Decimal) -> str:
    """A percentage with its sign, in the value (a "%" in a message would read as a format)."""
    return f"{_n(value)} %"


Sentence = tuple[str, dict[str, Any]]
"""A rule in plain words: a message to translate and its values."""


def describe(config: BaseModel, money: Callable[[Any], str]) -> list[Sentence]:
    """The program's rules in plain words, from its validated config."""
    describer = _DESCRIBERS.get(type(config))
    if describer is not None:
        return describer(config, money)
    return _describe_fields(config, money)


def _describe_points(config: Any, money: Callable[[Any], str]) -> list[Sentence]:
    rules: PointsProgramConfig = config
    said: list[Sentence] = [
        (
            N_("{earn} points per {unit} spent."),
            {"earn": _n(rules.earn_per_unit), "unit": money(1)},
        ),
    ]
    per_unit = (Decimal(1) / rules.point_value).normalize()
    said.append(
        (N_("{points} points = {value} off."), {"points": f"{per_unit:f}", "value": money(1)})
        if per_unit == per_unit.to_integral_value()
        else (N_("One point is worth {value}."), {"value": money(rules.point_value)})
    )
    if rules.expiry_days is None:
        said.append((N_("Points never expire."), {}))
    else:
        said.append((N_("Points expire after {days} days."), {"days": rules.expiry_days}))
    said.append(
        (
            N_("Points can be spent {days} days after the order (the returns window)."),
            {"days": rules.pending_days},
        )
    )
    said.append(
        (
            N_("Points pay for at most {pct} of an order."),
            {"pct": _pct(rules.max_redeem_share * 100)},
        )
    )
    if rules.bonuses:
        said.append(
            (N_("Bonus rules: {codes}."), {"codes": ", ".join(b.code for b in rules.bonuses)})
        )
    if rules.control_share:
        said.append(
            (
                N_("{pct} of customers are held out as a control group."),
                {"pct": _pct(rules.control_share * 100)},
            )
        )
    return said


def _describe_discount_card(config: Any, money: Callable[[Any], str]) -> list[Sentence]:
    card: DiscountCardConfig = config
    said: list[Sentence] = [
        (
            N_("From {threshold} spent: {pct} off every order."),
            {"threshold": money(s.threshold), "pct": _pct(s.pct)},
        )
        for s in card.steps
    ]
    if card.window_days is None:
        said.append((N_("Spend is counted over the customer's whole history."), {}))
    else:
        said.append((N_("Spend is counted over the last {days} days."), {"days": card.window_days}))
    return said


def _describe_stamp_card(config: Any, money: Callable[[Any], str]) -> list[Sentence]:
    card: StampCardConfig = config
    items = ", ".join(sorted(card.skus | card.categories))
    return [
        (N_("A stamp for each purchase of: {items}."), {"items": items}),
        (N_("{n} stamps give one free item."), {"n": card.stamps_required}),
    ]


def _describe_tiers(config: Any, money: Callable[[Any], str]) -> list[Sentence]:
    club: TierClubConfig = config
    said: list[Sentence] = [
        (
            N_("{name}: from {threshold} in {days} days — earns ×{multiplier}, {pct} off."),
            {
                "name": t.name,
                "threshold": money(t.threshold) if club.basis == "spend" else t.threshold,
                "days": club.window_days,
                "multiplier": _n(t.earn_multiplier),
                "pct": _pct(t.discount_pct),
            },
        )
        for t in club.tiers
    ]
    said.append(
        (N_("A tier is kept {days} days after it is no longer earned."), {"days": club.grace_days})
    )
    return said


def _describe_referral(config: Any, money: Callable[[Any], str]) -> list[Sentence]:
    rules: ReferralConfig = config
    said: list[Sentence] = [
        (
            N_(
                "The referrer gets {referrer} points and the new customer {referee} points, "
                "once their first order of at least {minimum} is kept {days} days."
            ),
            {
                "referrer": rules.referrer_points,
                "referee": rules.referee_points,
                "minimum": money(rules.min_order_amount),
                "days": rules.return_window_days,
            },
        )
    ]
    if rules.max_rewards_per_referrer is not None:
        said.append(
            (N_("At most {n} rewards per referrer."), {"n": rules.max_rewards_per_referrer})
        )
    return said


def _describe_membership(config: Any, money: Callable[[Any], str]) -> list[Sentence]:
    membership: MembershipConfig = config
    return [
        (
            N_("Plan {code}: {price} a {period}, earns ×{multiplier}."),
            {
                "code": p.code,
                "price": money(p.price),
                "period": p.period,
                "multiplier": _n(p.earn_multiplier),
            },
        )
        for p in membership.plans
    ]


def _plain(value: Any, money: Callable[[Any], str]) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, frozenset | set):
        value = sorted(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _describe_fields(config: BaseModel, money: Callable[[Any], str]) -> list[Sentence]:
    """A type without its own sentences: each setting, as set."""
    return [
        (
            N_("{setting}: {value}."),
            {"setting": name.replace("_", " ").capitalize(), "value": _plain(value, money)},
        )
        for name, value in config
        if name != "type" and value not in (None, [], {}, frozenset())
    ]


_DESCRIBERS: dict[type[BaseModel], Callable[[Any, Callable[[Any], str]], list[Sentence]]] = {
    PointsProgramConfig: _describe_points,
    DiscountCardConfig: _describe_discount_card,
    StampCardConfig: _describe_stamp_card,
    TierClubConfig: _describe_tiers,
    ReferralConfig: _describe_referral,
    MembershipConfig: _describe_membership,
}
