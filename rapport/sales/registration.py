"""What leads, deals and pipelines register with the hub: object types (roles can grant
them), event types, navigation, the 360° panel, search, demo data and the merge rule."""

from __future__ import annotations

from rapport.core import registry


def register() -> None:
    from rapport.sales import (  # noqa: F401  (events registers the event types)
        demo,
        events,
        gdpr,
        panels,
        report_sources,
        search,
    )
    from rapport.sales.services import merging

    gdpr.register()
    report_sources.register()

    for name, label, plural, customer_field in [
        ("sales.lead", "Lead", "Leads", ""),
        ("sales.deal", "Deal", "Deals", "customer"),
        ("sales.pipeline", "Pipeline", "Pipelines", ""),
    ]:
        registry.add_object_type(
            registry.ObjectType(
                name=name, label=label, label_plural=plural, customer_field=customer_field
            )
        )
    registry.add_nav(
        registry.NavItem(
            key="sales_leads",
            label="Leads",
            url_name="sales:lead_list",
            icon="list",
            order=14,
            object_type="sales.lead",
        )
    )
    registry.add_nav(
        registry.NavItem(
            key="sales_board",
            label="Deals",
            url_name="sales:board_default",
            icon="trending-up",
            order=15,
            object_type="sales.deal",
        )
    )
    registry.add_panel(
        registry.Panel(
            key="deals",
            title="Deals",
            template="sales/_customer_panel.html",
            context=panels.customer_panel_context,
            order=25,
            column="main",
        )
    )
    registry.add_search_provider(
        registry.SearchProvider(key="sales", label="Leads & deals", search=search.search, order=40)
    )
    registry.add_demo_loader(registry.DemoLoader(key="sales", load=demo.load, order=40))
    registry.add_merge_rule(
        registry.MergeRule(
            "sales.Deal",
            "customer",
            registry.MergeStrategy.CUSTOM,
            mover=merging.deals_mover,
            label="Deals",
        )
    )
    for field in ("matched_customer", "converted_customer"):
        registry.add_merge_rule(
            registry.MergeRule(
                "sales.Lead",
                field,
                registry.MergeStrategy.KEEP,
                why="a lead's match and conversion are history of the record they name",
            )
        )
