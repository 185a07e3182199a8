"""Fake but well-formed identities: names, emails, phones, birthdays.

Emails use the domains reserved for examples (RFC 2606: example.com/.org/.net) and end
in the customer number, so they are unique. Phones are German mobile numbers in E.164
form ('+49' and 11 digits). Walk-in customers often leave no email, online customers
often no phone; nobody has neither. Birthdays: age at registration ~ N(38, 13) clipped
to 16–90; a share is unknown, and a few are known without the year (stored as 1900).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from regulars.data.demo.params import DemoParams

# (display form, ASCII form used in email addresses)
_FIRST_NAMES: tuple[tuple[str, str], ...] = (
    ("Anna", "anna"), ("Lukas", "lukas"), ("Mia", "mia"), ("Jonas", "jonas"),
    ("Emma", "emma"), ("Leon", "leon"), ("Sofia", "sofia"), ("Noah", "noah"),
    ("Hannah", "hannah"), ("Elias", "elias"), ("Lea", "lea"), ("Paul", "paul"),
    ("Clara", "clara"), ("Felix", "felix"), ("Marie", "marie"), ("Ben", "ben"),
    ("Zoë", "zoe"), ("José", "jose"), ("Jürgen", "juergen"), ("Ayşe", "ayse"),
    ("Mehmet", "mehmet"), ("Olga", "olga"), ("Piotr", "piotr"), ("Giulia", "giulia"),
    ("Lars", "lars"), ("Ingrid", "ingrid"), ("Amir", "amir"), ("Fatima", "fatima"),
    ("Chen", "chen"), ("Yuki", "yuki"), ("Kofi", "kofi"), ("Amara", "amara"),
    ("Sven", "sven"), ("Greta", "greta"), ("Tobias", "tobias"), ("Lena", "lena"),
    ("Mateo", "mateo"), ("Camille", "camille"), ("Niklas", "niklas"), ("Ida", "ida"),
)  # fmt: skip
_LAST_NAMES: tuple[tuple[str, str], ...] = (
    ("Müller", "mueller"), ("Schmidt", "schmidt"), ("Schneider", "schneider"),
    ("Fischer", "fischer"), ("Weber", "weber"), ("Meyer", "meyer"), ("Wagner", "wagner"),
    ("Becker", "becker"), ("Hoffmann", "hoffmann"), ("Koch", "koch"), ("Richter", "richter"),
    ("Klein", "klein"), ("Wolf", "wolf"), ("Schröder", "schroeder"), ("Neumann", "neumann"),
    ("Yılmaz", "yilmaz"), ("Kowalski", "kowalski"), ("Rossi", "rossi"), ("García", "garcia"),
    ("Nguyen", "nguyen"), ("Jensen", "jensen"), ("Dubois", "dubois"), ("Novak", "novak"),
    ("Costa", "costa"), ("Ivanova", "ivanova"), ("Okafor", "okafor"), ("Haddad", "haddad"),
    ("Tanaka", "tanaka"), ("Larsen", "larsen"), ("Braun", "braun"), ("Zimmermann", "zimmermann"),
    ("Krüger", "krueger"), ("Hartmann", "hartmann"), ("Lange", "lange"), ("Werner", "werner"),
    ("Peters", "peters"), ("Lehmann", "lehmann"), ("Kaiser", "kaiser"), ("Fuchs", "fuchs"),
    ("Vogel", "vogel"),
)  # fmt: skip
_SEPARATORS = (".", "_", "", ".")
_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
_MOBILE_PREFIXES = np.array([151, 152, 157, 159, 160, 162, 170, 171, 172, 175, 176, 177, 178, 179])
_BIRTH_AGE_MEAN, _BIRTH_AGE_SD = 38.0, 13.0
_DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Identities:
    name: pa.Array
    email: pa.Array
    phone: pa.Array
    birthday: pa.Array


def _pick(values: tuple[str, ...], index: NDArray[np.int64]) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(index))


def _names_and_emails(
    rng: np.random.Generator, number: NDArray[np.int64], no_email: NDArray[np.bool_]
) -> tuple[pa.Array, pa.Array]:
    n = len(number)
    first = rng.integers(0, len(_FIRST_NAMES), n)
    last = rng.integers(0, len(_LAST_NAMES), n)
    display = pc.binary_join_element_wise(
        _pick(tuple(f for f, _ in _FIRST_NAMES), first),
        _pick(tuple(f for f, _ in _LAST_NAMES), last),
        " ",
    )
    email = pc.binary_join_element_wise(
        _pick(tuple(a for _, a in _FIRST_NAMES), first),
        _pick(_SEPARATORS, rng.integers(0, len(_SEPARATORS), n)),
        _pick(tuple(a for _, a in _LAST_NAMES), last),
        pc.cast(pa.array(number), pa.string()),
        pa.scalar("@"),
        _pick(_DOMAINS, rng.integers(0, len(_DOMAINS), n)),
        "",
    )
    return display, pc.if_else(pa.array(no_email), pa.scalar(None, pa.string()), email)


def _phones(rng: np.random.Generator, no_phone: NDArray[np.bool_]) -> pa.Array:
    n = len(no_phone)
    prefix = rng.choice(_MOBILE_PREFIXES, n)
    digits = pc.cast(pa.array(prefix * 10**8 + rng.integers(0, 10**8, n)), pa.string())
    phone = pc.binary_join_element_wise(pa.scalar("+49"), digits, "")
    return pc.if_else(pa.array(no_phone), pa.scalar(None, pa.string()), phone)


def _birthdays(
    rng: np.random.Generator, created_s: NDArray[np.int64], params: DemoParams
) -> pa.Array:
    n = len(created_s)
    age = np.clip(rng.normal(_BIRTH_AGE_MEAN, _BIRTH_AGE_SD, n), 16.0, 90.0)
    born = (created_s // 86_400 - age * _DAYS_PER_YEAR).astype(np.int64).astype("datetime64[D]")
    # Known without the year: keep month and day in 1900 (not a leap year: 29 Feb → 28 Feb).
    day_of_year = (born - born.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)
    year = born.astype("datetime64[Y]").astype(np.int64) + 1970
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    day_of_year = np.where(leap & (day_of_year >= 59), day_of_year - 1, day_of_year)
    no_year = np.datetime64("1900-01-01", "D") + day_of_year
    u = rng.random(n)
    yearless = u < params.birthday_known_share * params.birthday_year_unknown_share
    known = u < params.birthday_known_share
    days = np.where(yearless, no_year, born).astype(np.int64).astype(np.int32)
    return pa.array(days, pa.date32(), mask=~known)


def draw_identities(
    rng: np.random.Generator,
    number: NDArray[np.int64],
    is_pos: NDArray[np.bool_],
    created_s: NDArray[np.int64],
    params: DemoParams,
) -> Identities:
    """Identity columns for customers with the given customer numbers."""
    u = rng.random(len(number))
    no_email = is_pos & (u < params.pos_email_missing_share)
    no_phone = ~is_pos & (u < params.web_phone_missing_share)
    name, email = _names_and_emails(rng, number, no_email)
    return Identities(name, email, _phones(rng, no_phone), _birthdays(rng, created_s, params))
