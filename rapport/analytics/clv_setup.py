"""Lifetime value's registrations (called once from AnalyticsConfig.ready()): its task
and nightly schedule, event type, navigation entry, 360° panel and value card, segment
fields, merge rule and GDPR contributor."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rapport.core import events, registry, scheduler


def _gdpr_export(*, customer_id: int) -> dict[str, Any] | None:
    from rapport.analytics.models.clv import CustomerClv

    rows = list(
        CustomerClv.objects.filter(customer_id=customer_id)
        .order_by("fit_id")
        .values(
            "fit__calibration_end",
            "frequency",
            "recency",
            "age",
            "monetary",
            "p_alive",
            "expected_purchases",
            "expected_spend",
            "clv",
        )
    )
    return {"lifetime_value": rows} if rows else None


def _gdpr_erase(*, ctx: Any) -> int:
    from rapport.analytics import clv_services

    return clv_services.erase_customer_values(customer_id=ctx.customer_id)


def _demo(stdout: Any = None) -> str:
    """Fit once on the demo orders, so the equity page and 360° panels have values."""
    from rapport.analytics import clv_selectors, clv_services

    if clv_selectors.latest_fit() is not None:
        return "Lifetime value demo: already fitted."
    fit = clv_services.clv_fit_run()
    if fit.error:
        return f"Lifetime value demo: no fit ({fit.error})"
    return (
        f"Lifetime value demo: {fit.customers} customers valued, customer equity "
        f"{fit.equity:,.2f} {fit.currency} over {fit.horizon_weeks} weeks."
    )


def register() -> None:
    from rapport.analytics import clv_panels, clv_segments, clv_tasks

    events.register("clv.fitted", "A lifetime value fit finished; customer values were updated.")
    registry.add_tasks("analytics", clv_tasks.clv_fit)
    scheduler.every(
        "analytics.clv_fit", "rapport.analytics.clv_tasks.clv_fit", dt.timedelta(days=1)
    )
    registry.add_nav(
        registry.NavItem(
            key="clv_equity",
            label="Customer equity",
            url_name="analytics:clv_equity",
            icon="trending-up",
            order=70,
            object_type="customers.customer",
        )
    )
    registry.add_panel(
        registry.Panel(
            key="clv",
            title="Lifetime value",
            template="analytics/clv_panel.html",
            context=clv_panels.customer_panel_context,
            order=40,
            column="side",
        )
    )
    registry.add_customer_metric(
        registry.CustomerMetric(
            key="clv", label="Lifetime value", value=clv_panels.metric_value, order=10
        )
    )
    clv_segments.register()
    registry.add_demo_loader(registry.DemoLoader(key="analytics_clv", load=_demo, order=40))
    registry.add_merge_rule(
        registry.MergeRule(
            "analytics.CustomerClv",
            "customer",
            registry.MergeStrategy.KEEP,
            why="a fit's values are a snapshot of that day; the next fit values the merged "
            "customer on all of its orders",
        )
    )
    registry.add_gdpr_contributor(
        registry.GdprContributor(
            key="analytics.clv",
            label="Lifetime value",
            erase=_gdpr_erase,
            export=_gdpr_export,
            order=25,
        )
    )
