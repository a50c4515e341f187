"""Reads of sales, always narrowed to what the actor may see: leads and deals by record
scope (own/team/all), pipelines and stages by the pipeline grant."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.html import format_html_join

from rapport.core.pagination import Page, SortKey, keyset_page, parse_sort
from rapport.core.permissions import can, scope_queryset
from rapport.customers import selectors as customer_selectors
from rapport.sales.models import (
    Deal,
    DealStageChange,
    DealStatus,
    Lead,
    LeadStatus,
    Pipeline,
    Stage,
)
from rapport.sales.services.matching import likely_customers

LEAD_SORTS = {
    "created": SortKey("created", "created_at"),
    "score": SortKey("score", "score"),
    "id": SortKey("id", "pk"),
}
DEAL_SORTS = {
    "created": SortKey("created", "created_at"),
    "amount": SortKey("amount", "amount"),
    "close": SortKey("close", "expected_close_date"),
    "id": SortKey("id", "pk"),
}
# Cards shown per board column: beyond it the column says "and N more" and links to the
# filtered deal list, so a stage with 100,000 deals renders as fast as one with 50.
BOARD_CAP = 50


@dataclass
class LeadFilters:
    q: str | None = None
    status: str | None = None
    source: str | None = None
    owner_id: int | None = None


@dataclass
class DealFilters:
    q: str | None = None
    status: str | None = None
    pipeline_id: int | None = None
    stage_id: int | None = None
    customer_id: int | None = None
    owner_id: int | None = None
    team_id: int | None = None
    close_month: str | None = None  # "YYYY-MM"


def _search_text(q: str | None) -> str:
    """The search words without NUL characters: PostgreSQL refuses them in any text value
    (a 500, not an empty result), and no name or e-mail holds one."""
    return (q or "").replace("\x00", "").strip()


def _check_choice(name: str, value: str | None, choices: Any) -> None:
    if value and value not in choices.values:
        raise ValidationError(
            {name: f"Unknown {name} {value!r}. Allowed: {', '.join(choices.values)}."}
        )


def month_range(value: str) -> tuple[dt.date, dt.date]:
    """'2027-03' -> (2027-03-01, 2027-04-01)."""
    try:
        start = dt.datetime.strptime(value.strip(), "%Y-%m").date()
    except ValueError as exc:
        raise ValidationError({"close_month": "Give a month as YYYY-MM (e.g. 2027-03)."}) from exc
    end = dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start, end


# --- Leads --------------------------------------------------------------------------------


def lead_list(*, actor: Any, filters: LeadFilters | None = None) -> QuerySet[Lead]:
    qs = scope_queryset(Lead.objects.select_related("owner"), actor=actor)
    f = filters or LeadFilters()
    _check_choice("status", f.status, LeadStatus)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.source:
        qs = qs.filter(source=f.source)
    if f.owner_id:
        qs = qs.filter(owner_id=f.owner_id)
    if text := _search_text(f.q):
        qs = qs.filter(
            Q(email__iexact=text)
            | Q(last_name__istartswith=text)
            | Q(first_name__istartswith=text)
            | Q(organization_name__istartswith=text)
        )
    return qs


def lead_page(
    *,
    actor: Any,
    filters: LeadFilters | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Lead]:
    sort_key, descending = parse_sort(sort, LEAD_SORTS, "-created")
    return keyset_page(
        lead_list(actor=actor, filters=filters),
        sort_key=sort_key,
        descending=descending,
        cursor=cursor,
        limit=limit,
    )


def lead_detail(*, actor: Any, pk: int) -> Lead:
    return get_object_or_404(
        lead_list(actor=actor).select_related(
            "matched_customer", "converted_customer", "converted_deal"
        ),
        pk=pk,
    )


@dataclass
class CustomerMatch:
    customer: Any
    probability: float

    @property
    def percent(self) -> int:
        # Never "100 % likely": the matcher weighs evidence, it does not prove identity.
        return min(99, round(self.probability * 100))


def lead_matches(*, actor: Any, lead: Lead, limit: int = 5) -> list[CustomerMatch]:
    """Existing customers the lead probably is (those the actor may see), most likely
    first: what the lead page shows before conversion."""
    if not lead.is_open:
        return []
    found = likely_customers(
        first_name=lead.first_name,
        last_name=lead.last_name,
        email=lead.email,
        phone=lead.phone,
        organization_name=lead.organization_name,
        limit=limit,
    )
    if not found:
        return []
    customers = customer_selectors.customer_list(actor=actor).in_bulk([cid for cid, _ in found])
    return [CustomerMatch(customers[cid], p) for cid, p in found if cid in customers]


# --- Pipelines and stages -----------------------------------------------------------------


def pipeline_list(*, actor: Any, filters: Any = None) -> QuerySet[Pipeline]:
    """Every pipeline, for anyone who may view deals or pipelines."""
    if not (can(actor, "view", Pipeline) or can(actor, "view", Deal)):
        return Pipeline.objects.none()
    return Pipeline.objects.all()


def pipeline_detail(*, actor: Any, pk: int) -> Pipeline:
    return get_object_or_404(pipeline_list(actor=actor).prefetch_related("stages"), pk=pk)


def stage_list(*, actor: Any, filters: Any = None) -> QuerySet[Stage]:
    qs = Stage.objects.filter(pipeline__in=pipeline_list(actor=actor))
    pipeline_id = getattr(filters, "pipeline_id", None)
    return qs.filter(pipeline_id=pipeline_id) if pipeline_id else qs


def stage_detail(*, actor: Any, pk: int) -> Stage:
    return get_object_or_404(stage_list(actor=actor).select_related("pipeline"), pk=pk)


# --- Deals --------------------------------------------------------------------------------


def _filter_deals(qs: QuerySet[Deal], f: DealFilters) -> QuerySet[Deal]:
    _check_choice("status", f.status, DealStatus)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.pipeline_id:
        qs = qs.filter(pipeline_id=f.pipeline_id)
    if f.stage_id:
        qs = qs.filter(stage_id=f.stage_id)
    if f.customer_id:
        qs = qs.filter(customer_id=f.customer_id)
    if f.owner_id:
        qs = qs.filter(owner_id=f.owner_id)
    if f.team_id:
        qs = qs.filter(team_id=f.team_id)
    if f.close_month:
        start, end = month_range(f.close_month)
        qs = qs.filter(expected_close_date__gte=start, expected_close_date__lt=end)
    if text := _search_text(f.q):
        qs = qs.filter(name__icontains=text)
    return qs


def deal_list(*, actor: Any, filters: DealFilters | None = None) -> QuerySet[Deal]:
    qs = scope_queryset(Deal.objects.select_related("customer", "stage", "owner"), actor=actor)
    return _filter_deals(qs, filters or DealFilters())


def deal_page(
    *,
    actor: Any,
    filters: DealFilters | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Deal]:
    sort_key, descending = parse_sort(sort, DEAL_SORTS, "-created")
    return keyset_page(
        deal_list(actor=actor, filters=filters),
        sort_key=sort_key,
        descending=descending,
        cursor=cursor,
        limit=limit,
    )


def deal_detail(*, actor: Any, pk: int) -> Deal:
    return get_object_or_404(
        deal_list(actor=actor).select_related("pipeline", "team", "source_lead"), pk=pk
    )


def deal_history(*, actor: Any, deal: Deal) -> list[DealStageChange]:
    """The deal's stage entries, oldest first (the caller already saw the deal)."""
    return list(
        DealStageChange.objects.filter(deal=deal)
        .select_related("from_stage", "to_stage", "changed_by")
        .order_by("changed_at", "id")
    )


def customer_deals(*, actor: Any, customer_id: int, limit: int = 10) -> list[Deal]:
    """A customer's deals, open first then most recent (the 360° page's panel)."""
    return list(
        scope_queryset(
            Deal.objects.filter(customer_id=customer_id).select_related("stage"), actor=actor
        ).order_by("-status", "-id")[:limit]
    )


# --- The board ----------------------------------------------------------------------------


@dataclass
class Total:
    currency: str
    amount: Decimal
    weighted: Decimal


@dataclass
class BoardColumn:
    stage: Stage
    count: int = 0
    totals: list[Total] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    # The card menu's <option>s with this column's stage selected: every card of a column
    # shares them, so the page renders them once per column, not once per card.
    stage_options: str = ""

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.deals))


@dataclass
class Board:
    pipeline: Pipeline
    columns: list[BoardColumn]
    cap: int


def board(
    *, actor: Any, pipeline: Pipeline, filters: DealFilters | None = None, cap: int = BOARD_CAP
) -> Board:
    """The kanban board of `pipeline`: per stage the count, total and weighted total (one
    SQL aggregate over every deal the actor may see) and the first `cap` cards in close
    date order (one indexed query per non-empty stage): the query count depends on the
    pipeline's stages, never on its deals."""
    f = filters or DealFilters()
    f.pipeline_id = pipeline.pk
    base = _filter_deals(scope_queryset(Deal.objects.all(), actor=actor), f)
    stages = list(pipeline.stages.order_by("position", "id"))
    columns = {s.pk: BoardColumn(stage=s) for s in stages}
    weighted = ExpressionWrapper(
        F("amount") * F("probability") / 100,
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )
    rows = (
        base.order_by()
        .values("stage_id", "currency")
        .annotate(n=Count("id"), total=Sum("amount"), weighted=Sum(weighted))
    )
    for row in rows:
        column = columns.get(row["stage_id"])
        if column is None:
            continue
        column.count += row["n"]
        column.totals.append(
            Total(
                currency=row["currency"],
                amount=Decimal(row["total"] or 0).quantize(Decimal("0.01")),
                weighted=Decimal(row["weighted"] or 0).quantize(Decimal("0.01")),
            )
        )
    if cap > 0:
        # One LIMITed query per stage, each walking the (stage, close date, id) index: a
        # column of 100,000 deals costs what a column of 50 does. (A ROW_NUMBER() window
        # over the pipeline would sort every deal first.) Deals without a close date come
        # where the database sorts NULLs (first on SQLite, last on PostgreSQL).
        cards = base.select_related("customer", "owner").order_by("expected_close_date", "id")
        for stage in stages:
            columns[stage.pk].deals = list(cards.filter(stage_id=stage.pk)[:cap])
    for column in columns.values():
        column.totals.sort(key=lambda t: t.currency)
        column.stage_options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((s.pk, " selected" if s.pk == column.stage.pk else "", s.name) for s in stages),
        )
    return Board(pipeline=pipeline, columns=[columns[s.pk] for s in stages], cap=cap)


def board_pipeline(*, actor: Any, pk: int | None) -> Pipeline:
    """The pipeline the board shows: `pk`, else the default one."""
    pipelines = pipeline_list(actor=actor)
    if pk is None:
        found = pipelines.filter(is_default=True).first() or pipelines.first()
        if found is None:
            raise Http404("No pipeline yet.")
        return found
    return get_object_or_404(pipelines, pk=pk)
