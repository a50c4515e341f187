"""The next-best-offer page: what is offered most, how well it predicted the last
evaluation's held-out purchases against popularity, and the administrators' buttons."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from rapport.analytics import recommend, recommend_selectors
from rapport.analytics.rfm_views import require_customers
from rapport.core.http import AuthedRequest


@login_required
def recommendations(request: AuthedRequest) -> HttpResponse:
    require_customers(request)
    return render(
        request,
        "analytics/recommendations.html",
        {
            "top": recommend_selectors.top_offers(actor=request.user),
            "customers": recommend_selectors.offered_customers(actor=request.user),
            "evaluation": recommend_selectors.last_evaluation(),
            "is_admin": getattr(request.user, "is_admin", False),
            "tab": "recommendations",
        },
    )


@login_required
@require_POST
def recommendations_refresh(request: AuthedRequest) -> HttpResponse:
    job = recommend.recommendations_refresh_start(actor=request.user)
    return redirect("core:job_detail", job_id=job.pk)


@login_required
@require_POST
def recommendations_evaluate(request: AuthedRequest) -> HttpResponse:
    job = recommend.recommendations_evaluate_start(actor=request.user)
    return redirect("core:job_detail", job_id=job.pk)
