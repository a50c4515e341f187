"""RFM pages: the R x F heat-map with the segments, the customers behind a cell or a
segment, and the administrators' "recompute now". Thin: selectors and one service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from rapport.analytics import rfm, rfm_selectors
from rapport.analytics.models import RfmScore, RfmSegment
from rapport.core.http import AuthedRequest
from rapport.core.listing import Column, EmptyState, Listing, ListPage
from rapport.core.pagination import Page
from rapport.core.permissions import can

CUSTOMER_TYPE = "customers.customer"
SCORE_CHOICES = [("", "Any")] + [(str(n), str(n)) for n in range(1, 6)]


def require_customers(request: AuthedRequest) -> None:
    if not can(request.user, "view", CUSTOMER_TYPE):
        raise PermissionDenied("Your role does not include customers.")


@login_required
def rfm_overview(request: AuthedRequest) -> HttpResponse:
    require_customers(request)
    overview = rfm_selectors.rfm_overview(actor=request.user)
    return render(
        request,
        "analytics/rfm.html",
        {
            "overview": overview,
            "scores": range(1, 6),
            "can_recompute": getattr(request.user, "is_admin", False),
            "tab": "rfm",
        },
    )


@login_required
@require_POST
def rfm_recompute(request: AuthedRequest) -> HttpResponse:
    job = rfm.rfm_recompute_start(actor=request.user)
    return redirect("core:job_detail", job_id=job.pk)


class RfmFilterForm(forms.Form):
    segment = forms.ChoiceField(choices=[("", "Any segment"), *RfmSegment.choices], required=False)
    r = forms.TypedChoiceField(
        label="Recency", choices=SCORE_CHOICES, coerce=int, empty_value=None, required=False
    )
    f = forms.TypedChoiceField(
        label="Frequency", choices=SCORE_CHOICES, coerce=int, empty_value=None, required=False
    )
    m = forms.TypedChoiceField(
        label="Monetary", choices=SCORE_CHOICES, coerce=int, empty_value=None, required=False
    )


class RfmCustomerList(ListPage):
    """The customers of one segment or grid cell, with their figures."""

    model = RfmScore
    template = "analytics/rfm_customers.html"
    results_template = "analytics/_rfm_customer_results.html"
    filter_form = RfmFilterForm
    sorts = rfm_selectors.RFM_SORTS
    default_sort = "-monetary"
    columns = (
        Column("Customer"),
        Column("Segment"),
        Column("R F M"),
        Column("Last purchase", sort="recency"),
        Column("Purchase days", sort="frequency", numeric=True),
        Column("Revenue", sort="monetary", numeric=True),
    )
    empty = EmptyState(
        icon="bar-chart",
        title="No scored customers yet",
        text="RFM scores are computed every night from the orders; an administrator can "
        "recompute them now from the RFM page.",
        action_url="/analytics/rfm/",
        action_label="Back to RFM",
    )
    empty_filtered = EmptyState(
        icon="search",
        title="No customer in this segment",
        text="None of the customers you may see falls here. Pick another cell or segment.",
        action_url="/analytics/rfm/",
        action_label="Back to the grid",
    )

    def check_access(self) -> None:
        require_customers(self.request)

    def read(
        self, *, data: dict[str, Any], sort: str, cursor: str | None, limit: int
    ) -> Page[RfmScore]:
        filters = rfm_selectors.RfmFilters(
            segment=data.get("segment") or None, r=data.get("r"), f=data.get("f"), m=data.get("m")
        )
        return rfm_selectors.rfm_page(
            actor=self.request.user, filters=filters, sort=sort, cursor=cursor, limit=limit
        )

    def extra_context(self, listing: Listing, data: dict[str, Any]) -> dict[str, Any]:
        parts = []
        if data.get("segment"):
            parts.append(str(RfmSegment(data["segment"]).label))
        for name, label in (("r", "R"), ("f", "F"), ("m", "M")):
            if data.get(name):
                parts.append(f"{label}{data[name]}")
        return {"title": " · ".join(parts) or "All scored customers", "tab": "rfm"}

    def is_filtered(self, data: dict[str, Any], params: QueryDict) -> bool:
        return any(data.get(k) for k in ("segment", "r", "f", "m"))


rfm_customers = RfmCustomerList.as_view()
