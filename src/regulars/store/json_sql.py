"""Building JSON inside SQL, per dialect, so that one ``INSERT … SELECT`` can write rows
whose JSON column is computed by the database (e.g. one event per account with the
account's lots as an array) instead of a Python loop that writes one row at a time.

PostgreSQL builds ``jsonb`` (``jsonb_build_object``, ``jsonb_agg``), SQLite JSON text
(``json_object``, ``json_group_array``); :data:`JSON_FUNCTIONS` holds one
:class:`JsonFunctions` per dialect name, so the caller writes the expression once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, literal
from sqlalchemy.dialects.postgresql import aggregate_order_by


@dataclass(frozen=True)
class JsonFunctions:
    """Building JSON in SQL in one dialect: ``build(**fields)`` an object,
    ``object_array(key_name, key, value_name, value)`` the aggregate array of
    ``{key_name: key, value_name: value}`` objects (ordered by ``key`` where the dialect
    can), ``embed`` an aggregate from a subquery inside an object."""

    build: Callable[..., ColumnElement[Any]]
    object_array: Callable[[str, Any, str, Any], ColumnElement[Any]]
    embed: Callable[[Any], ColumnElement[Any]]


def typed_text(value: str) -> ColumnElement[str]:
    """A string parameter typed as text (PostgreSQL cannot type one inside
    ``jsonb_build_object``)."""
    return cast(literal(value), String)


def object_builder(function: str) -> Callable[..., ColumnElement[Any]]:
    """``build(**fields)`` for the SQL function ``function`` that takes alternating names
    and values (``jsonb_build_object``, ``json_object``); the names become text
    parameters (:func:`typed_text`)."""

    def build(**fields: Any) -> ColumnElement[Any]:
        pairs = [part for name, value in fields.items() for part in (typed_text(name), value)]
        built: ColumnElement[Any] = getattr(func, function)(*pairs)
        return built

    return build


JSON_FUNCTIONS = {
    "postgresql": JsonFunctions(
        build=object_builder("jsonb_build_object"),
        object_array=lambda key_name, key, value_name, value: func.jsonb_agg(
            aggregate_order_by(
                func.jsonb_build_object(typed_text(key_name), key, typed_text(value_name), value),
                key,
            )
        ),
        embed=lambda column: column,
    ),
    # SQLite: json_group_array has no ORDER BY before 3.44; json() keeps the subquery's
    # text a JSON array inside the object rather than a quoted string.
    "sqlite": JsonFunctions(
        build=object_builder("json_object"),
        object_array=lambda key_name, key, value_name, value: func.json_group_array(
            func.json_object(typed_text(key_name), key, typed_text(value_name), value)
        ),
        embed=func.json,
    ),
}
"""The :class:`JsonFunctions` of each dialect, by the SQLAlchemy dialect name."""
