"""The customer equity page (the sum of discounted CLVs by stage, acquisition cohort,
owner and over time, each figure linking to its customers) and its admin actions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from rapport.analytics import clv_selectors, clv_services
from rapport.core.http import AuthedRequest
from rapport.core.permissions import can

CUSTOMER_TYPE = "customers.customer"


@login_required
def equity(request: AuthedRequest) -> HttpResponse:
    if not can(request.user, "view", CUSTOMER_TYPE):
        raise PermissionDenied
    fit = clv_selectors.latest_fit()
    attempt = clv_selectors.last_attempt()
    config = clv_selectors.settings_row()
    context = {
        "fit": fit,
        "equity": clv_selectors.equity(actor=request.user, fit=fit) if fit else None,
        "failed": attempt if attempt and attempt.status == "failed" else None,
        "running": attempt if attempt and attempt.status == "running" else None,
        "horizon_weeks": config.horizon_weeks if config else 52,
        "discount_rate_pct": round((config.discount_rate if config else 0.10) * 100, 2),
        "is_admin": getattr(request.user, "is_admin", False),
    }
    return render(request, "analytics/clv_equity.html", context)


@login_required
@require_POST
def fit_now(request: AuthedRequest) -> HttpResponse:
    job = clv_services.clv_fit_start(actor=request.user)
    return redirect("core:job_detail", job_id=job.pk)


@login_required
@require_POST
def settings_update(request: AuthedRequest) -> HttpResponse:
    try:
        horizon = int(request.POST.get("horizon_weeks", ""))
        rate = float(request.POST.get("discount_rate", "")) / 100
    except ValueError:
        messages.error(request, "Give the horizon in whole weeks and the discount rate in percent.")
        return redirect("analytics:clv_equity")
    try:
        clv_services.clv_settings_update(
            actor=request.user, horizon_weeks=horizon, discount_rate=rate
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Lifetime value settings saved: the next fit uses them.")
    return redirect("analytics:clv_equity")
