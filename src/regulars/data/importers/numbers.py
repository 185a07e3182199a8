"""Money and quantities from text as people type them, vectorised with pyarrow.compute.

Accepted: ``1234.56``, ``1,234.56``, ``1.234,56``, ``1 234,56`` (also with no-break or
thin spaces), ``1'234.56``, currency symbols and codes before or after the number
(``€12.50``, ``$1,200``, ``12,50 ₽``, ``USD 10``, ``10 руб.``), negatives as ``-5``,
``5-`` or ``(5)``. Money is rounded to cents, half away from zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from regulars.data.schema import MONEY

#: Not part of a number: currency symbols anywhere; currency codes and words ("USD",
#: "руб.") only before or after it (a sign or bracket may stay outside them), so "1e5"
#: stays invalid instead of becoming 15.
_SYMBOL = r"\p{Sc}"
_LEADING_WORD = r"^([-+(]?)\s*\p{L}+\.?"
_TRAILING_WORD = r"\p{L}+\.?\s*([)-]?)$"
_SPACES = r"[\s\x{00A0}\x{2007}\x{2009}\x{202F}'’]"
_DOT_DECIMAL = r"^[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)$"
_COMMA_DECIMAL = r"^[+-]?(?:(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d*)?|,\d+)$"
_MAX_INTEGER_DIGITS = 16
_PLAIN_MONEY = r"^[+-]?(?:\d{1,16}(?:\.\d{0,2})?|\.\d{1,2})$"
_WORKING = pa.decimal128(38, 9)

_SYMBOL_CURRENCIES = {
    "€": "EUR",
    "£": "GBP",
    "₽": "RUB",
    "₴": "UAH",
    "₸": "KZT",
    "₹": "INR",
    "₺": "TRY",
    "₪": "ILS",
    "₩": "KRW",
    "zł": "PLN",
    "руб": "RUB",
}


@dataclass
class Parsed:
    """Parsed values plus, per row, whether a non-empty input failed to parse."""

    values: pa.Array
    invalid: pa.Array


def as_text(values: pa.Array) -> pa.Array:
    """Any Arrow array as trimmed text, with empty strings turned into nulls."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.string())
    trimmed = pc.utf8_trim(values, " \t\r\n\u00a0\u200b\ufeff")
    empty = is_empty(trimmed)
    if not pc.any(empty).as_py():  # typical of exports from software: nothing to blank
        return trimmed
    return pc.if_else(empty, pa.scalar(None, pa.string()), trimmed)


def is_empty(text: pa.Array) -> pa.Array:
    """``text == ""``; comparing lengths is an order of magnitude faster than strings."""
    return pc.equal(pc.utf8_length(text), 0)


def _clean_number_text(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Strip currency, spaces and sign notations; return (unsigned-ish text, negate flag)."""
    text = pc.replace_substring(text, "\u2212", "-")
    text = pc.replace_substring_regex(text, _SYMBOL, "")
    text = pc.replace_substring_regex(text, _LEADING_WORD, r"\1")
    text = pc.replace_substring_regex(text, _TRAILING_WORD, r"\1")
    text = pc.replace_substring_regex(text, _SPACES, "")
    parenthesised = pc.match_substring_regex(text, r"^\(.*\)$")
    text = pc.replace_substring_regex(text, r"^\((.*)\)$", r"\1")
    trailing_minus = pc.match_substring_regex(text, r"^[^-]+-$")
    text = pc.replace_substring_regex(text, r"^([^-]+)-$", r"\1")
    negate = pc.fill_null(pc.or_(parenthesised, trailing_minus), False)
    return text, negate


def choose_decimal(text: pa.Array) -> str:
    """The decimal separator a column uses, from the values that can only be read one way.

    ``12,50`` and ``1.234,5`` can only be comma-decimal; ``12.50`` and ``1,234.5`` only
    dot-decimal; the more frequent kind wins. ``1,234`` and ``1.234`` fit both readings;
    when only such values exist, a separator followed by three digits is a thousands
    separator (money rarely has three decimals), so both read as 1234.
    """
    cleaned, _ = _clean_number_text(text)
    dot = pc.match_substring_regex(cleaned, _DOT_DECIMAL)
    comma = pc.match_substring_regex(cleaned, _COMMA_DECIMAL)
    comma_only = _count(pc.and_(comma, pc.invert(dot)))
    dot_only = _count(pc.and_(dot, pc.invert(comma)))
    if comma_only or dot_only:
        return "," if comma_only > dot_only else "."
    has_dot = _count(pc.match_substring(cleaned, "."))
    has_comma = _count(pc.match_substring(cleaned, ","))
    return "," if has_dot and not has_comma else "."


def _count(mask: pa.Array) -> int:
    return int(pc.sum(pc.cast(pc.fill_null(mask, False), pa.int64())).as_py() or 0)


def _canonical_number_text(text: pa.Array, decimal: str) -> tuple[pa.Array, pa.Array]:
    """(``-1234.5``-style text or null, negate flag) for the given decimal separator."""
    cleaned, negate = _clean_number_text(text)
    pattern, thousands = (_COMMA_DECIMAL, ".") if decimal == "," else (_DOT_DECIMAL, ",")
    valid = pc.match_substring_regex(cleaned, pattern)
    plain = pc.replace_substring(cleaned, thousands, "")
    plain = pc.replace_substring(plain, decimal, ".")
    plain = pc.replace_substring_regex(plain, r"\.$", "")
    plain = pc.replace_substring_regex(plain, r"^([+-]?)\.", r"\10.")
    small = pc.match_substring_regex(plain, rf"^[+-]?0*\d{{1,{_MAX_INTEGER_DIGITS}}}(?:\.|$)")
    ok = pc.fill_null(pc.and_(valid, small), False)
    return pc.if_else(ok, plain, pa.scalar(None, pa.string())), negate


def parse_money(values: pa.Array, decimal: str | None = None) -> Parsed:
    """Money as ``decimal128(18, 2)``; ``decimal`` None means detect it for this column."""
    text = as_text(values)
    plain = _plain_money(text) if decimal != "," else None
    if plain is not None:
        return Parsed(plain, _invalid(text, plain))
    sep = decimal or choose_decimal(text)
    plain, negate = _canonical_number_text(text, sep)
    plain = pc.replace_substring_regex(plain, r"(\.\d{9})\d+$", r"\1")
    exact = pc.cast(plain, _WORKING)
    exact = pc.if_else(negate, pc.negate(exact), exact)
    money = pc.cast(pc.round(exact, 2, round_mode="half_towards_infinity"), MONEY)
    return Parsed(money, _invalid(text, money))


def _plain_money(text: pa.Array) -> pa.Array | None:
    """Machine-written amounts (``12.5``, ``-3``, ``0.99``) in one cast; None otherwise.

    The fast path for exports from software. A regex decides first: a failing cast is
    slow, and only plain values with at most two decimals take this path, so it always
    agrees with the full parser (``2.000`` may be a grouped thousand there).
    """
    if not pc.all(pc.match_substring_regex(text, _PLAIN_MONEY)).as_py():
        return None
    try:
        return pc.cast(text, MONEY)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def parse_integer(values: pa.Array) -> Parsed:
    """Whole numbers such as quantities: ``3``, ``-1``, ``3.0``, ``3,00``."""
    text = pc.replace_substring_regex(as_text(values), _SPACES, "")
    whole = pc.match_substring_regex(text, r"^[+-]?\d{1,15}(?:[.,]0{1,2})?$")
    digits = pc.replace_substring_regex(text, r"[.,]0{1,2}$", "")
    number = pc.cast(pc.if_else(whole, digits, pa.scalar(None, pa.string())), pa.int64())
    return Parsed(number, _invalid(text, number))


def _invalid(text: pa.Array, parsed: pa.Array) -> pa.Array:
    """True where there was text but no parsed value."""
    return pc.and_(pc.is_valid(text), pc.is_null(parsed))


def currency_hint(values: pa.Array) -> pa.Array:
    """An ISO 4217 code written inside an amount (``USD 10``, ``12,50 ₽``), else null.

    ``$`` and ``¥`` are left alone: several currencies share them.
    """
    text = as_text(values)
    if not pc.any(pc.match_substring_regex(text, r"[^0-9.,+\-\s()']")).as_py():
        return pa.nulls(len(text), pa.string())  # plain numbers name no currency
    code = pc.extract_regex(text, r"(?:^|[^A-Za-z])(?P<code>[A-Z]{3})(?:[^A-Za-z]|$)")
    result = pc.if_else(pc.is_valid(code), pc.struct_field(code, "code"), None)
    for symbol, iso in _SYMBOL_CURRENCIES.items():
        has_symbol = pc.fill_null(pc.match_substring(text, symbol), False)
        result = pc.if_else(pc.and_(has_symbol, pc.is_null(result)), iso, result)
    return pc.cast(result, pa.string())
