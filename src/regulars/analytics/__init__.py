"""Retention analytics as Ibis expressions: KPIs, cohorts, lifecycle, RFM, kinds, stages.

Every function takes an Ibis ``orders`` table in the canonical schema (see
:mod:`regulars.data.schema`; ``ordered_at`` already in the shop's local time) and
returns a lazy Ibis table, except :func:`period_kpis`, :func:`lifetime_value` and
:func:`retention_goal`, which materialise one small row. Definitions: ``docs/metrics.md``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from regulars.analytics.cohorts import cohort_matrix
    from regulars.analytics.customer_table import customer_table
    from regulars.analytics.goal import RetentionGoal, retention_goal, suggest_target
    from regulars.analytics.kinds import KindConfig, customer_kinds
    from regulars.analytics.kpis import (
        PeriodKPIs,
        RetentionCounts,
        kpi_series,
        period_kpis,
        period_kpis_many,
        period_kpis_table,
    )
    from regulars.analytics.lifecycle import lifecycle
    from regulars.analytics.lifetime import LifetimeValue, lifetime_value
    from regulars.analytics.rfm import SEGMENT_GRID, SEGMENTS, SegmentInfo, rfm_scores
    from regulars.analytics.stages import StageConfig, customer_stage, loyalty_stages
    from regulars.analytics.transactions import net_revenue, purchases, return_documents
    from regulars.analytics.validation import AnalysisArgumentError

_SOURCES = {
    "cohort_matrix": "regulars.analytics.cohorts",
    "customer_table": "regulars.analytics.customer_table",
    "RetentionGoal": "regulars.analytics.goal",
    "retention_goal": "regulars.analytics.goal",
    "suggest_target": "regulars.analytics.goal",
    "KindConfig": "regulars.analytics.kinds",
    "customer_kinds": "regulars.analytics.kinds",
    "PeriodKPIs": "regulars.analytics.kpis",
    "RetentionCounts": "regulars.analytics.kpis",
    "kpi_series": "regulars.analytics.kpis",
    "period_kpis": "regulars.analytics.kpis",
    "period_kpis_many": "regulars.analytics.kpis",
    "period_kpis_table": "regulars.analytics.kpis",
    "lifecycle": "regulars.analytics.lifecycle",
    "LifetimeValue": "regulars.analytics.lifetime",
    "lifetime_value": "regulars.analytics.lifetime",
    "SEGMENT_GRID": "regulars.analytics.rfm",
    "SEGMENTS": "regulars.analytics.rfm",
    "SegmentInfo": "regulars.analytics.rfm",
    "rfm_scores": "regulars.analytics.rfm",
    "StageConfig": "regulars.analytics.stages",
    "customer_stage": "regulars.analytics.stages",
    "loyalty_stages": "regulars.analytics.stages",
    "net_revenue": "regulars.analytics.transactions",
    "purchases": "regulars.analytics.transactions",
    "return_documents": "regulars.analytics.transactions",
    "AnalysisArgumentError": "regulars.analytics.validation",
}
"""Where each exported name lives. They are imported on first use (PEP 562): importing
one submodule (``regulars.analytics.validation``, which the API needs) runs this file, and
importing them all here would load Ibis at every API server and worker start (~1 s)."""


class _Package(types.ModuleType):
    """This package, where an exported name wins over the submodule of the same name
    (``lifecycle``) as with eager imports: the import system binds a submodule on its
    package when it loads it, and would hide the function from :func:`__getattr__`."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _SOURCES:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_SOURCES[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "SEGMENTS",
    "SEGMENT_GRID",
    "AnalysisArgumentError",
    "KindConfig",
    "LifetimeValue",
    "PeriodKPIs",
    "RetentionCounts",
    "RetentionGoal",
    "SegmentInfo",
    "StageConfig",
    "cohort_matrix",
    "customer_kinds",
    "customer_stage",
    "customer_table",
    "kpi_series",
    "lifecycle",
    "lifetime_value",
    "loyalty_stages",
    "net_revenue",
    "period_kpis",
    "period_kpis_many",
    "period_kpis_table",
    "purchases",
    "retention_goal",
    "return_documents",
    "rfm_scores",
    "suggest_target",
]
