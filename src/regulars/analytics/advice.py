"""Who is in each group of customers and what to do about them: the RFM segments
(:data:`regulars.analytics.rfm.SEGMENTS`, the report's table), the customer kinds
(:mod:`regulars.analytics.kinds`) and the loyalty stages (:mod:`regulars.analytics.stages`).

One place for these texts: the report and the web app's segments page both read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from regulars.analytics.kinds import OCCASIONAL, ONE_TIME, REGULAR
from regulars.analytics.rfm import SEGMENTS, SegmentInfo
from regulars.analytics.stages import ATTACHMENT, FIRST_PURCHASE, LOYALTY, REPEAT


def _by_name(*infos: SegmentInfo) -> Mapping[str, SegmentInfo]:
    return MappingProxyType({info.name: info for info in infos})


SEGMENT_ADVICE: Mapping[str, SegmentInfo] = SEGMENTS
"""The RFM segments, in the report's order."""

KIND_ADVICE = _by_name(
    SegmentInfo(
        ONE_TIME,
        "Bought once.",
        "Make the second purchase easy: a welcome series, a reason to come back soon.",
    ),
    SegmentInfo(
        OCCASIONAL,
        "Bought more than once, but at no steady rhythm.",
        "Remind them when they usually run out; bundles and seasonal offers.",
    ),
    SegmentInfo(
        REGULAR,
        "Buy at a steady rhythm over a long time.",
        "Keep the rhythm: subscriptions, refill reminders, loyalty rewards; never over-discount.",
    ),
)
"""The customer kinds, from the least to the most regular."""

STAGE_ADVICE = _by_name(
    SegmentInfo(
        FIRST_PURCHASE,
        "Bought once so far.",
        "Onboard them: thank-you message, how-to content, an easy second purchase.",
    ),
    SegmentInfo(
        REPEAT,
        "Bought at least twice.",
        "Invite them to the loyalty program; recommend what buyers like them buy next.",
    ),
    SegmentInfo(
        ATTACHMENT,
        "Buy markedly more often than new customers do.",
        "Reward the habit: tier benefits, early access, ask for reviews.",
    ),
    SegmentInfo(
        LOYALTY,
        "Attached, still active and customers for a year or more.",
        "Treat them as ambassadors: referrals, personal thanks, a say in new products.",
    ),
)
"""The loyalty stages, from the first purchase to loyalty."""
