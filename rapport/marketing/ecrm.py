"""Registers marketing's e-CRM part (storefront events, tracker, segments) with the shared
shell: object types, navigation, 360 panels, tasks, schedules, merge rules, GDPR, demo."""

from __future__ import annotations

import datetime as dt


def register() -> None:
    from rapport.core import registry, scheduler
    from rapport.marketing import (
        consumers,  # noqa: F401  (registers the "segments" outbox consumer)
        demo_events,
        events,  # noqa: F401  (registers the event types)
        gdpr_events,
        panels_ecrm,
        tasks,
    )

    gdpr_events.register()
    registry.add_object_type(
        registry.ObjectType(name="marketing.segment", label="Segment", label_plural="Segments")
    )
    # Web events are data about customers, not records with an owner: "view" lets a role
    # read them (through the customers it sees), "create" lets an API key send them
    # (scope marketing.webevent:write).
    registry.add_object_type(
        registry.ObjectType(
            name="marketing.webevent",
            label="Web event",
            label_plural="Web events",
            actions=("view", "create"),
            customer_field="customer",
        )
    )
    registry.add_nav(
        registry.NavItem(
            key="marketing",
            label="Marketing",
            url_name="marketing:segment_list",
            icon="megaphone",
            order=40,
            object_type="marketing.segment",
        )
    )
    registry.add_panel(
        registry.Panel(
            key="web-activity",
            title="Web activity",
            template="marketing/_customer_web_activity.html",
            context=panels_ecrm.web_activity_context,
            order=40,
            column="main",
        )
    )
    registry.add_panel(
        registry.Panel(
            key="segments",
            title="Segments",
            template="marketing/_customer_segments.html",
            context=panels_ecrm.segments_context,
            order=40,
            column="side",
        )
    )
    registry.add_tasks("marketing", tasks.refresh_dynamic_segments, tasks.rebuild_windowed_segments)
    scheduler.every(
        "segment-refresh-sweep",
        "rapport.marketing.tasks.refresh_dynamic_segments",
        dt.timedelta(seconds=30),
    )
    scheduler.every(
        "segment-window-rebuild",
        "rapport.marketing.tasks.rebuild_windowed_segments",
        dt.timedelta(days=1),
    )
    for model in ("marketing.WebEvent", "marketing.VisitorIdentity"):
        registry.add_merge_rule(
            registry.MergeRule(model, "customer", registry.MergeStrategy.MOVE_ALL)
        )
    registry.add_merge_rule(
        registry.MergeRule(
            "marketing.SegmentMembership",
            "customer",
            registry.MergeStrategy.MOVE_ROWS,
            unique_with=("segment",),
            label="Segment memberships",
        )
    )
    registry.add_demo_loader(
        registry.DemoLoader(key="marketing-events", load=demo_events.load, order=40)
    )
