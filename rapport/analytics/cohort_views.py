"""Cohort pages: the acquisition cohorts' retention and revenue heat-map with the monthly
trends, and the customers behind a cohort cell. Thin: one read each."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import render

from rapport.analytics import cohorts
from rapport.analytics.rfm_views import require_customers
from rapport.core.http import AuthedRequest
from rapport.core.listing import Column, EmptyState, Listing, ListPage, validation_text
from rapport.core.pagination import Page

MONTH_CHOICES = [(12, "12 months"), (24, "24 months"), (36, "36 months")]
VIEWS = [("retention", "Retention"), ("revenue", "Revenue per customer")]


class CohortForm(forms.Form):
    months = forms.TypedChoiceField(
        label="Cohorts of the last", choices=MONTH_CHOICES, coerce=int, required=False
    )
    view = forms.ChoiceField(label="Show", choices=VIEWS, required=False)


@login_required
def cohort_overview(request: AuthedRequest) -> HttpResponse:
    require_customers(request)
    form = CohortForm(request.GET or None, initial={"months": 24})
    data = form.cleaned_data if form.is_valid() else {}
    months = data.get("months") or 24
    report = cohorts.cohort_report(actor=request.user, months=months)
    return render(
        request,
        "analytics/cohorts.html",
        {
            "form": form,
            "report": report,
            "months": months,
            "view": data.get("view") or "retention",
            "columns": range(months),
            "tab": "cohorts",
        },
    )


class CohortCustomerForm(forms.Form):
    cohort = forms.CharField(widget=forms.HiddenInput)
    k = forms.IntegerField(min_value=0, required=False, widget=forms.HiddenInput)

    def clean_cohort(self) -> cohorts.Month:
        try:
            return cohorts.Month.parse(self.cleaned_data["cohort"])
        except ValidationError as exc:
            raise ValidationError(validation_text(exc)) from exc


class CohortCustomerList(ListPage):
    """The customers acquired in one month (and who ordered in its k-th month)."""

    template = "analytics/cohort_customers.html"
    filter_form = CohortCustomerForm
    sorts = cohorts.COHORT_CUSTOMER_SORTS
    default_sort = "name"
    columns = (
        Column("Customer", sort="name"),
        Column("First order"),
        Column("Orders that month", numeric=True),
        Column("Revenue that month", numeric=True),
    )
    empty = EmptyState(
        icon="bar-chart",
        title="Pick a cohort",
        text="Open this list from a cell of the cohort table.",
        action_url="/analytics/cohorts/",
        action_label="Cohorts",
    )
    empty_filtered = EmptyState(
        icon="search",
        title="No customer in this cell",
        text="None of the customers you may see is in this cohort cell.",
        action_url="/analytics/cohorts/",
        action_label="Back to the cohorts",
    )

    def check_access(self) -> None:
        require_customers(self.request)

    def read(self, *, data: dict[str, Any], sort: str, cursor: str | None, limit: int) -> Page[Any]:
        if not data.get("cohort"):
            return Page(items=[], next_cursor=None, sort=sort)
        return cohorts.cohort_customer_page(
            actor=self.request.user,
            cohort=data["cohort"],
            k=data.get("k"),
            sort=sort,
            cursor=cursor,
            limit=limit,
        )

    def extra_context(self, listing: Listing, data: dict[str, Any]) -> dict[str, Any]:
        cohort, k = data.get("cohort"), data.get("k")
        if cohort is None:
            return {"title": "Cohort customers", "tab": "cohorts"}
        title = f"Acquired in {cohort.label}"
        if k is not None:
            title += f", ordering in {cohort.plus(k).label} (month {k})"
        return {"title": title, "tab": "cohorts", "month": cohort.plus(k or 0)}

    def is_filtered(self, data: dict[str, Any], params: QueryDict) -> bool:
        return bool(data.get("cohort"))


cohort_customers = CohortCustomerList.as_view()
