"""Defection (churn) prediction's place in the shell: its events, tasks and schedule, the
panel on the customer 360° page, the segment fields, the admin page's object type and
navigation entry, GDPR, merges and the demo loader. `register()` runs from the app's
ready()."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from rapport.core import events, registry, scheduler

OBJECT_TYPE = "analytics.churn_model"
CUSTOMER_TYPE = "customers.customer"


def panel_context(*, actor: Any, customer: Any) -> dict[str, Any] | None:
    """The churn card: risk, band and top reasons; hidden for a customer with no score
    (no order in the active window, or no model yet). One query."""
    from rapport.analytics import churn_selectors
    from rapport.core.permissions import can

    risk = churn_selectors.customer_risk(actor=actor, customer_id=customer.pk)
    if risk is None:
        return None
    return {"risk": risk, "can_see_model": can(actor, "view", OBJECT_TYPE)}


def _percent(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValidationError({name: "Give a churn risk in percent, 0 to 100."}) from None
    if not 0 <= number <= 100:
        raise ValidationError({name: "Give a churn risk in percent, 0 to 100."})
    return number / 100


def _risk_at_least(queryset: QuerySet[Any], values: list[str], *, actor: Any) -> QuerySet[Any]:
    return queryset.filter(churn_score__probability__gte=_percent("churn_risk_min", values[0]))


def _risk_below(queryset: QuerySet[Any], values: list[str], *, actor: Any) -> QuerySet[Any]:
    return queryset.filter(churn_score__probability__lt=_percent("churn_risk_below", values[0]))


def _risk_band(queryset: QuerySet[Any], values: list[str], *, actor: Any) -> QuerySet[Any]:
    from rapport.analytics.churn_selectors import HIGH, MEDIUM

    bounds = {"high": (HIGH, 1.01), "medium": (MEDIUM, HIGH), "low": (0.0, MEDIUM)}
    unknown = [v for v in values if v not in bounds]
    if unknown:
        raise ValidationError({"churn_risk_band": "Use high, medium or low."})
    from django.db.models import Q

    condition = Q()
    for value in values:
        low, high = bounds[value]
        condition |= Q(churn_score__probability__gte=low, churn_score__probability__lt=high)
    return queryset.filter(condition)


def _gdpr_export(*, customer_id: int) -> dict[str, Any] | None:
    from rapport.analytics.models import ChurnScore

    score = ChurnScore.objects.filter(customer_id=customer_id).first()
    if score is None:
        return None
    return {
        "churn_risk": {
            "probability": score.probability,
            "reasons": score.reasons,
            "scored_at": score.scored_at.isoformat(),
        }
    }


def _gdpr_erase(*, ctx: Any) -> int:
    # A risk score is profiling about the person: it goes with them.
    from rapport.analytics.models import ChurnScore

    deleted, _ = ChurnScore.objects.filter(customer_id=ctx.customer_id).delete()
    return deleted


def register() -> None:
    from rapport.analytics import churn_demo, churn_tasks

    events.register(
        "churn_model.trained", "The churn model was trained (or found too little data)."
    )
    events.register("churn_scores.refreshed", "Every active customer's churn risk was recomputed.")
    registry.add_tasks("analytics", churn_tasks.churn_train_job)
    scheduler.every(
        "analytics.churn_train",
        "rapport.analytics.churn_tasks.churn_train_scheduled",
        dt.timedelta(days=7),
    )
    scheduler.every(
        "analytics.churn_score",
        "rapport.analytics.churn_tasks.churn_score_scheduled",
        dt.timedelta(days=1),
    )
    registry.add_object_type(
        registry.ObjectType(
            name=OBJECT_TYPE,
            label="Churn model",
            label_plural="Churn model",
            actions=("view", "create"),
        )
    )
    registry.add_nav(
        registry.NavItem(
            key="churn",
            label="Churn model",
            url_name="analytics:churn_model",
            icon="trending-up",
            order=70,
            object_type=OBJECT_TYPE,
        )
    )
    registry.add_panel(
        registry.Panel(
            key="churn_risk",
            title="Churn risk",
            template="analytics/churn_panel.html",
            context=panel_context,
            order=40,
            column="side",
        )
    )
    for name, label, kind, operators, apply in (
        ("churn_risk_min", "Churn risk at least (%)", "number", ("gte",), _risk_at_least),
        ("churn_risk_below", "Churn risk below (%)", "number", ("lt",), _risk_below),
        ("churn_risk_band", "Churn risk band", "choice", ("in",), _risk_band),
    ):
        registry.add_segment_field(
            registry.SegmentField(
                object_type=CUSTOMER_TYPE,
                name=name,
                label=label,
                type=kind,
                operators=operators,
                apply=apply,
            )
        )
    registry.add_gdpr_contributor(
        registry.GdprContributor(
            key="analytics.churn",
            label="Churn risk",
            erase=_gdpr_erase,
            export=_gdpr_export,
            order=25,
        )
    )
    registry.add_merge_rule(
        registry.MergeRule(
            "analytics.ChurnScore",
            "customer",
            registry.MergeStrategy.KEEP,
            why="a risk score is recomputed for the survivor at the next daily scoring, and "
            "the merged-away record's score is dropped then",
        )
    )
    registry.add_demo_loader(registry.DemoLoader(key="churn", load=churn_demo.load, order=60))
