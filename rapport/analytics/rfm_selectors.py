"""Reads of RFM results, always through the customers the actor may see: a rep's grid
counts only their own customers, and a drill-down never lists anyone else's."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Max, QuerySet, Sum

from rapport.analytics.models import RfmScore, RfmSegment
from rapport.analytics.rfm import SEGMENT_ADVICE, SEGMENT_GRID
from rapport.core.pagination import Page, SortKey, keyset_page, parse_sort
from rapport.customers import selectors as customer_selectors

RFM_SORTS = {
    "monetary": SortKey("monetary", "monetary"),
    "recency": SortKey("recency", "recency_days"),
    "frequency": SortKey("frequency", "frequency"),
    "customer": SortKey("customer", "pk"),
}
SCORES = range(1, 6)


@dataclass
class RfmFilters:
    segment: str | None = None
    r: int | None = None
    f: int | None = None
    m: int | None = None

    def __post_init__(self) -> None:
        if self.segment and self.segment not in RfmSegment.values:
            raise ValidationError({"segment": f"There is no RFM segment {self.segment!r}."})
        for name in ("r", "f", "m"):
            value = getattr(self, name)
            if value is not None and value not in SCORES:
                raise ValidationError({name: "A score is a whole number from 1 to 5."})


@dataclass
class GridCell:
    r: int
    f: int
    customers: int = 0
    revenue: Decimal = Decimal(0)
    share: float = 0.0  # of the largest cell, for the heat-map shade

    @property
    def heat(self) -> int:
        """The shade step (0 to 10) the cell is drawn in."""
        return round(self.share * 10)


@dataclass
class SegmentRow:
    key: str
    label: str
    advice: str
    customers: int = 0
    revenue: Decimal = Decimal(0)
    share: float = 0.0  # of the scored customers, 0 to 100
    cells: list[str] = field(default_factory=list)  # "R5 FM4", where it sits on the grid


@dataclass
class RfmOverview:
    rows: list[list[GridCell]]  # R 5 (top) to 1, each F 1 to 5
    segments: list[SegmentRow]
    customers: int
    revenue: Decimal
    as_of: Any  # the date of the run the figures come from, None before the first


def _visible_scores(actor: Any) -> QuerySet[RfmScore]:
    visible = customer_selectors.customer_list(actor=actor)
    return RfmScore.objects.filter(customer__in=visible.values("pk"))


def rfm_overview(*, actor: Any) -> RfmOverview:
    """The R x F grid and the segments over the actor's customers: two GROUP BY queries
    and one for the run's date."""
    scores = _visible_scores(actor)
    by_cell = {
        (row["r_score"], row["f_score"]): row
        for row in scores.values("r_score", "f_score")
        .annotate(n=Count("pk"), revenue=Sum("monetary"))
        .order_by()
    }
    peak = max((row["n"] for row in by_cell.values()), default=0)
    rows = []
    for r in reversed(SCORES):
        line = []
        for f in SCORES:
            found = by_cell.get((r, f))
            cell = GridCell(r=r, f=f)
            if found:
                cell.customers, cell.revenue = found["n"], found["revenue"] or Decimal(0)
                cell.share = found["n"] / peak
            line.append(cell)
        rows.append(line)
    by_segment = {
        row["segment"]: row
        for row in scores.values("segment")
        .annotate(n=Count("pk"), revenue=Sum("monetary"))
        .order_by()
    }
    total = sum(row["n"] for row in by_segment.values())
    segments = []
    for segment in RfmSegment:
        found = by_segment.get(segment.value, {})
        segments.append(
            SegmentRow(
                key=segment.value,
                label=str(segment.label),
                advice=SEGMENT_ADVICE[segment],
                customers=found.get("n", 0),
                revenue=found.get("revenue") or Decimal(0),
                share=100 * found.get("n", 0) / total if total else 0.0,
                cells=[
                    f"R{r} FM{fm}"
                    for r in reversed(SCORES)
                    for fm in SCORES
                    if SEGMENT_GRID[r][fm - 1] == segment
                ],
            )
        )
    as_of = RfmScore.objects.aggregate(as_of=Max("as_of"))["as_of"]
    return RfmOverview(
        rows=rows,
        segments=segments,
        customers=total,
        revenue=sum((s.revenue for s in segments), Decimal(0)),
        as_of=as_of,
    )


def rfm_list(*, actor: Any, filters: RfmFilters | None = None) -> QuerySet[RfmScore]:
    """The RFM rows of the actor's customers, narrowed to a segment or a grid cell."""
    filters = filters or RfmFilters()
    scores = _visible_scores(actor)
    if filters.segment:
        scores = scores.filter(segment=filters.segment)
    for name in ("r", "f", "m"):
        if (value := getattr(filters, name)) is not None:
            scores = scores.filter(**{f"{name}_score": value})
    return scores


def rfm_page(
    *,
    actor: Any,
    filters: RfmFilters | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[RfmScore]:
    """One keyset page of scored customers (biggest spenders first by default)."""
    sort_key, descending = parse_sort(sort, RFM_SORTS, "-monetary")
    scores = rfm_list(actor=actor, filters=filters).select_related("customer")
    return keyset_page(scores, sort_key=sort_key, descending=descending, cursor=cursor, limit=limit)


def customer_rfm(*, actor: Any, customer_id: int) -> RfmScore | None:
    """The customer's RFM row if the actor may see the customer (one query)."""
    return _visible_scores(actor).filter(pk=customer_id).first()
