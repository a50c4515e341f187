"""What RFM adds to the customer 360° page and to segments: the RFM panel and the
`rfm_segment`, `rfm_r` and `rfm_f` segment fields."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from rapport.analytics import rfm_selectors
from rapport.analytics.models import RfmSegment
from rapport.analytics.rfm import SEGMENT_ADVICE


def customer_panel_context(*, actor: Any, customer: Any) -> dict[str, Any] | None:
    """The customer's segment, scores and figures (one query); hidden before any order."""
    score = rfm_selectors.customer_rfm(actor=actor, customer_id=customer.pk)
    if score is None:
        return None
    return {"rfm": score, "advice": SEGMENT_ADVICE[RfmSegment(score.segment)]}


def apply_segment(queryset: QuerySet[Any], values: list[str], *, actor: Any) -> QuerySet[Any]:
    wanted = [v.strip().lower() for v in values]
    unknown = [v for v in wanted if v not in RfmSegment.values]
    if unknown:
        raise ValidationError(
            {
                "rfm_segment": f"Unknown RFM segment {unknown[0]!r}. Use one of: "
                + ", ".join(RfmSegment.values)
                + "."
            }
        )
    return queryset.filter(rfm__segment__in=wanted)


def _score_filter(name: str, column: str) -> Any:
    def apply(queryset: QuerySet[Any], values: list[str], *, actor: Any) -> QuerySet[Any]:
        try:
            score = int(values[0])
        except ValueError:
            score = 0
        if score not in range(1, 6):
            raise ValidationError({name: "A score is a whole number from 1 to 5."})
        return queryset.filter(**{f"rfm__{column}": score})

    return apply


apply_r = _score_filter("rfm_r", "r_score")
apply_f = _score_filter("rfm_f", "f_score")
