"""Retention analytics as Ibis expressions: KPIs, cohorts, lifecycle, RFM, kinds, stages.

Every function takes an Ibis ``orders`` table in the canonical schema (see
:mod:`regulars.data.schema`; ``ordered_at`` already in the shop's local time) and
returns a lazy Ibis table, except :func:`period_kpis` and :func:`retention_goal`,
which materialise one small row. Definitions: ``docs/metrics.md``.
"""

from regulars.analytics.cohorts import cohort_matrix
from regulars.analytics.customers import customer_table
from regulars.analytics.goal import RetentionGoal, retention_goal, suggest_target
from regulars.analytics.kinds import KindConfig, customer_kinds
from regulars.analytics.kpis import (
    PeriodKPIs,
    RetentionCounts,
    kpi_series,
    period_kpis,
    period_kpis_table,
)
from regulars.analytics.lifecycle import lifecycle
from regulars.analytics.rfm import SEGMENT_GRID, SEGMENTS, SegmentInfo, rfm_scores
from regulars.analytics.stages import StageConfig, customer_stage, loyalty_stages
from regulars.analytics.transactions import net_revenue, purchases, return_documents
from regulars.analytics.validation import AnalysisArgumentError

__all__ = [
    "SEGMENTS",
    "SEGMENT_GRID",
    "AnalysisArgumentError",
    "KindConfig",
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
    "loyalty_stages",
    "net_revenue",
    "period_kpis",
    "period_kpis_table",
    "purchases",
    "retention_goal",
    "return_documents",
    "rfm_scores",
    "suggest_target",
]
