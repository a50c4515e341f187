"""Reads of churn prediction: the model runs (administrators' page) and a customer's risk,
only for customers the actor may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied

from rapport.analytics.churn_features import FEATURES_BY_NAME
from rapport.analytics.models import ChurnModelRun, ChurnRunStatus, ChurnScore
from rapport.core.permissions import can, scope_queryset
from rapport.customers.models import Customer

# Bands the 360° page and the segment field speak in.
HIGH, MEDIUM = 0.6, 0.3


def latest_trained_run() -> ChurnModelRun | None:
    return (
        ChurnModelRun.objects.filter(status=ChurnRunStatus.TRAINED).order_by("-created_at").first()
    )


def runs_for_admin(*, actor: Any, limit: int = 10) -> list[ChurnModelRun]:
    """The latest runs, newest first, without their model blobs (administrators)."""
    if not can(actor, "view", "analytics.churn_model"):
        raise PermissionDenied("Your role does not allow you to see the churn model.")
    return list(ChurnModelRun.objects.defer("model_blob").order_by("-created_at")[:limit])


@dataclass(frozen=True)
class Reason:
    feature: str
    text: str  # "last order 212 days ago"
    delta: float  # how much of the risk this value adds over a typical one


@dataclass(frozen=True)
class CustomerRisk:
    probability: float
    band: str  # "high", "medium", "low"
    reasons: list[Reason]
    scored_at: Any
    window_days: int


def band(probability: float) -> str:
    return "high" if probability >= HIGH else "medium" if probability >= MEDIUM else "low"


def reason_text(feature: str, value: float | None) -> str:
    spec = FEATURES_BY_NAME.get(feature)
    if spec is None:
        return feature.replace("_", " ")
    if value is None:
        return f"{spec.label.lower()}: not known (one purchase only)"
    return spec.reason.format(value=value, s="" if round(value) == 1 else "s")


def customer_risk(*, actor: Any, customer_id: int) -> CustomerRisk | None:
    """The customer's latest churn risk, or None when the actor may not see the customer
    or the customer has no score (not active, or no model yet). One query."""
    visible = scope_queryset(Customer.objects.all(), actor=actor, action="view")
    score = (
        ChurnScore.objects.filter(customer_id=customer_id, customer__in=visible)
        .select_related("run")
        .only("probability", "reasons", "scored_at", "run__window_days")
        .first()
    )
    if score is None:
        return None
    return CustomerRisk(
        probability=score.probability,
        band=band(score.probability),
        reasons=[
            Reason(r["feature"], reason_text(r["feature"], r.get("value")), r["delta"])
            for r in score.reasons
        ],
        scored_at=score.scored_at,
        window_days=score.run.window_days,
    )
