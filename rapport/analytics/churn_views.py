"""The churn model page: how well the latest model predicts (held-out AUC, precision and
recall, a calibration plot drawn server-side as SVG), what it learned from, and a button
to train it again."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.analytics import churn_selectors, churn_services
from rapport.analytics.churn_features import FEATURES_BY_NAME
from rapport.core import selectors as core_selectors
from rapport.core.http import AuthedRequest
from rapport.core.models import Job
from rapport.core.permissions import can

OBJECT_TYPE = "analytics.churn_model"
PLOT = 240  # the calibration plot's inner size, px
PAD = 36


def calibration_plot(bins: list[dict[str, Any]]) -> dict[str, Any]:
    """Coordinates for the SVG: the diagonal, one point per non-empty bin (predicted on x,
    observed on y, radius by count) and the polyline through them."""

    def xy(p: float, o: float) -> tuple[float, float]:
        return PAD + p * PLOT, PAD + (1 - o) * PLOT

    filled = [b for b in bins if b["count"]]
    biggest = max((b["count"] for b in filled), default=1)
    points = []
    for b in filled:
        x, y = xy(b["predicted"], b["observed"])
        points.append(
            {
                "x": round(x, 1),
                "y": round(y, 1),
                "r": round(3 + 5 * (b["count"] / biggest) ** 0.5, 1),
                "title": (
                    f"{b['low']:.0%} to {b['high']:.0%}: predicted {b['predicted']:.0%}, "
                    f"observed {b['observed']:.0%} of {b['count']}"
                ),
            }
        )
    ticks = [
        {"v": f"{t:.0%}", "x": PAD + t * PLOT, "y": PAD + (1 - t) * PLOT}
        for t in (0, 0.25, 0.5, 0.75, 1)
    ]
    return {
        "size": PLOT + 2 * PAD,
        "pad": PAD,
        "end": PAD + PLOT,
        "points": points,
        "line": " ".join(f"{p['x']},{p['y']}" for p in points),
        "ticks": ticks,
    }


def _importance_rows(run: Any) -> list[dict[str, Any]]:
    rows = run.metrics.get("importance", [])
    top = max((max(r["auc_drop"], 0) for r in rows), default=0) or 1
    return [
        {
            "label": FEATURES_BY_NAME[r["feature"]].label
            if r["feature"] in FEATURES_BY_NAME
            else r["feature"],
            "drop": r["auc_drop"],
            "width": round(100 * max(r["auc_drop"], 0) / top),
        }
        for r in rows
    ]


@login_required
def churn_model(request: AuthedRequest) -> HttpResponse:
    if not can(request.user, "view", OBJECT_TYPE):
        raise PermissionDenied("Your role does not allow you to see the churn model.")
    runs = churn_selectors.runs_for_admin(actor=request.user)
    latest = runs[0] if runs else None
    trained = next((r for r in runs if r.status == "trained"), None)
    job = None
    if job_id := request.GET.get("job", ""):
        try:
            job = core_selectors.job_for(actor=request.user, job_id=job_id)
        except (Job.DoesNotExist, ValidationError, ValueError):
            job = None
    context: dict[str, Any] = {
        "latest": latest,
        "trained": trained,
        "runs": runs,
        "job": job,
        "can_train": can(request.user, "create", OBJECT_TYPE),
        "min_customers": churn_services.churn_model.MIN_CUSTOMERS,
        "min_per_class": churn_services.churn_model.MIN_PER_CLASS,
        "list_url": reverse("customers:list"),
    }
    if trained is not None:
        context["plot"] = calibration_plot(trained.metrics.get("calibration", []))
        context["importance"] = _importance_rows(trained)
        context["metrics"] = trained.metrics
    return render(request, "analytics/churn_model.html", context)


@login_required
@require_POST
def churn_train(request: AuthedRequest) -> HttpResponse:
    job = churn_services.churn_train_start(actor=request.user)
    messages.success(request, "Training started. This page updates when it is done.")
    return redirect(reverse("analytics:churn_model") + f"?job={job.pk}")
