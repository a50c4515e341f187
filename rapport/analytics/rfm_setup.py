"""What RFM, cohorts and next-best-offer add to the shell: tasks and their schedule, the
360° page's panel, the segment fields, navigation and merge/GDPR rules. Called once from
AnalyticsConfig.ready()."""

from __future__ import annotations

import datetime as dt
from typing import Any

CUSTOMER_TYPE = "customers.customer"


def register() -> None:
    from rapport.analytics import recommend_panels, rfm_panels, rfm_tasks
    from rapport.analytics.models import RfmSegment
    from rapport.core import registry, scheduler

    registry.add_tasks(
        "analytics",
        rfm_tasks.rfm_job,
        rfm_tasks.rfm_scheduled,
        rfm_tasks.recommend_job,
        rfm_tasks.recommend_scheduled,
        rfm_tasks.recommend_evaluate_job,
    )
    scheduler.every(
        "analytics.rfm", "rapport.analytics.rfm_tasks.rfm_scheduled", dt.timedelta(days=1)
    )
    scheduler.every(
        "analytics.recommendations",
        "rapport.analytics.rfm_tasks.recommend_scheduled",
        dt.timedelta(days=1),
    )
    registry.add_nav(
        registry.NavItem(
            key="analytics_rfm",
            label="RFM segments",
            url_name="analytics:rfm",
            icon="bar-chart",
            order=60,
            object_type=CUSTOMER_TYPE,
        )
    )
    registry.add_panel(
        registry.Panel(
            key="rfm",
            title="RFM segment",
            template="analytics/rfm_panel.html",
            context=rfm_panels.customer_panel_context,
            order=20,
            column="side",
        )
    )
    registry.add_panel(
        registry.Panel(
            key="recommendations",
            title="Next best offer",
            template="analytics/recommend_panel.html",
            context=recommend_panels.customer_panel_context,
            order=25,
            column="side",
        )
    )
    choices = ", ".join(RfmSegment.values)
    for name, label, kind, operators, apply, lookup in (
        ("rfm_segment", f"RFM segment ({choices})", "choice", ("in",), rfm_panels.apply_segment,
         "rfm__segment__in"),
        ("rfm_r", "RFM recency score (1-5)", "number", ("eq",), rfm_panels.apply_r,
         "rfm__r_score"),
        ("rfm_f", "RFM frequency score (1-5)", "number", ("eq",), rfm_panels.apply_f,
         "rfm__f_score"),
    ):  # fmt: skip
        registry.add_segment_field(
            registry.SegmentField(
                object_type=CUSTOMER_TYPE,
                name=name,
                label=label,
                type=kind,
                operators=operators,
                apply=apply,
                lookup=lookup,
            )
        )
    registry.add_demo_loader(registry.DemoLoader(key="analytics_rfm", load=_demo, order=25))
    registry.add_merge_rule(
        registry.MergeRule(
            "analytics.RfmScore",
            "customer",
            registry.MergeStrategy.KEEP,
            why="derived scores: the next RFM run scores the survivor from the moved orders",
        )
    )
    registry.add_merge_rule(
        registry.MergeRule(
            "analytics.Recommendation",
            "customer",
            registry.MergeStrategy.KEEP,
            why="derived offers: the next recommendation run covers the survivor's history",
        )
    )
    registry.add_gdpr_contributor(
        registry.GdprContributor(
            key="analytics.rfm",
            label="RFM scores",
            export=_gdpr_export,
            erase=_gdpr_erase,
            order=40,
        )
    )


def _gdpr_export(*, customer_id: int) -> dict[str, Any] | None:
    from rapport.analytics.models import RfmScore

    row = RfmScore.objects.filter(pk=customer_id).values().first()
    if row is None:
        return None
    return {"rfm": {k: str(v) if v is not None else None for k, v in row.items()}}


def _gdpr_erase(*, ctx: Any) -> int:
    """An erased person's scores and offers go (derived from their history)."""
    from rapport.analytics.models import Recommendation, RfmScore

    scores, _ = RfmScore.objects.filter(pk=ctx.customer_id).delete()
    offers, _ = Recommendation.objects.filter(customer_id=ctx.customer_id).delete()
    return scores + offers


def _demo(stdout: Any = None) -> str:
    """Score the demo orders at once, so the pages have figures before the first nightly
    run (which the worker also starts on its first launch)."""
    from rapport.analytics import recommend, rfm

    scored = rfm.score_all()
    offers = recommend.refresh_all()
    return (
        f"Analytics demo: RFM scores for {scored.scored} customers, "
        f"{offers.recommendations} next best offers."
    )
