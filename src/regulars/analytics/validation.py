"""Argument checks shared by the analyses.

A bad argument raises :class:`AnalysisArgumentError`, which is both a
:class:`~regulars.errors.RegularsError` (the CLI prints it without a traceback) and a
:class:`ValueError` (what Python callers expect from a bad value).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from regulars.errors import RegularsError


class AnalysisArgumentError(RegularsError, ValueError):
    """An analysis was called with an argument it cannot work with."""


def require_choice(name: str, value: str, choices: Collection[str]) -> None:
    """Fail unless ``value`` is one of ``choices``."""
    if value not in choices:
        allowed = ", ".join(sorted(choices))
        raise AnalysisArgumentError(f"{name} must be one of {allowed}; got {value!r}")


def require_period(start: date, end: date) -> None:
    """Fail unless ``[start, end)`` is a non-empty half-open date range."""
    if not start < end:
        raise AnalysisArgumentError(f"the period [{start}, {end}) is empty: start must be < end")


def require_positive(name: str, value: int | float) -> None:
    """Fail unless ``value`` is strictly positive."""
    if not value > 0:
        raise AnalysisArgumentError(f"{name} must be > 0; got {value!r}")
