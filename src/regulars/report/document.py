"""``metrics.json``: the report's numbers for machines (keys in docs/report.md).

JSON keeps numbers as numbers, never formatted for a locale. Exact amounts (revenue,
historic CLTV) are decimal text (``"1398517.02"``). Floats lose their binary noise
(``3.700000000000003`` → ``3.7``): rates and ratios are rounded to
:data:`FLOAT_DIGITS` decimals, and amounts of money that are floats (an average, a
forecast: the keys in :data:`MONEY_KEYS`) to cents.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from regulars import __version__
from regulars.data.importers import ImportResult
from regulars.models.risk import risk_threshold
from regulars.report.build import ReportData

METRICS_SCHEMA_VERSION = 2
FLOAT_DIGITS = 6
#: Keys whose float values are amounts of money: rounded to cents.
MONEY_KEYS = frozenset(
    {
        "aov",
        "expected_revenue_90d",
        "expected_revenue_365d",
        "clv_12m_total",
        "value_at_risk",
        "value_at_risk_total",
    }
)


def _float(value: float, key: str | None) -> float | None:
    if not math.isfinite(value):  # NaN and infinities have no JSON form
        return None
    return round(value, 2 if key in MONEY_KEYS else FLOAT_DIGITS)


def jsonable(value: Any, key: str | None = None) -> Any:
    """Dates as ISO text, Decimals as exact text, dataclasses as dicts, floats rounded
    (module docstring; ``key`` is the name the value is stored under)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return _float(value, key)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value), key)
    if isinstance(value, dict):
        return {str(k): jsonable(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, key) for v in value]
    return value


def _time(data: ReportData) -> dict[str, Any] | None:
    days = data.local_days
    if days is None:
        return None
    return {
        "timezone": days.timezone,
        "offsets_minutes": list(days.offsets),
        "orders_with_offset": days.orders_with_offset,
        "orders_without_offset": days.orders_without_offset,
        "assumed_utc": days.assumed_utc,
    }


def future_document(data: ReportData) -> dict[str, Any] | None:
    """The ``future`` key of metrics.json (see docs/report.md)."""
    future = data.future
    if future is None:
        return None
    choice = future.choice
    chosen = choice.compared.get(choice.model)
    holdout = choice.holdout
    at_risk = data.at_risk
    return {
        **future.totals(),
        "model_choice": choice.to_dict(),
        "reliability": future.reliability.to_dict(),
        "value_model": None
        if chosen is None
        else {
            "model": chosen.model,
            "params": chosen.params,
            "log_likelihood": chosen.log_likelihood,
        },
        "holdout": None
        if holdout is None
        else {k: v for k, v in holdout.to_dict().items() if k not in ("tracking", "by_frequency")},
        "churn_evaluation": None
        if future.churn is None
        else {k: v for k, v in future.churn.to_dict().items() if k != "calibration"},
        "at_risk": None
        if at_risk is None
        else {
            "customers": at_risk.num_rows,
            "base_rate": future.base_rate,
            "threshold": None if future.base_rate is None else risk_threshold(future.base_rate),
            "value_at_risk_total": sum(v for v in at_risk.column("value_at_risk").to_pylist() if v),
        },
        "problems": future.problems,
    }


def metrics_document(
    data: ReportData, source: ImportResult | None, files: list[str]
) -> dict[str, Any]:
    """The whole of metrics.json, JSON-ready."""
    doc: dict[str, Any] = {
        "schema_version": METRICS_SCHEMA_VERSION,
        "generator": f"regulars {__version__}",
        "as_of": data.as_of,
        "period": data.period,
        "partial_period": data.partial,
        "currency": data.currency,
        "time": _time(data),
        "source": None,
        "totals": data.totals,
        "current_period": data.current.to_dict(),
        "previous_period": data.previous.to_dict() if data.previous else None,
        "lifetime": data.lifetime.to_dict(),
        "trend": data.series.to_pylist(),
        "lifecycle": data.lifecycle.to_pylist(),
        "cohorts": data.cohorts.to_pylist(),
        "segments": data.segments.to_pylist(),
        "kinds": data.kinds.to_pylist(),
        "stages": data.stages.to_pylist(),
        "goal": data.goal,
        "future": future_document(data),
    }
    if source is not None:
        doc["source"] = {
            "files": files,
            "format": source.source_format,
            "rows_read": source.rows_read,
            "orders_imported": source.orders_imported,
            "rows_rejected": source.rows_rejected,
            "duplicate_orders": source.duplicate_orders,
        }
    return jsonable(doc)  # type: ignore[no-any-return]
