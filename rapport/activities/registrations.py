"""Everything activities plug into the shell, called once from AppConfig.ready()."""

from __future__ import annotations

import datetime as dt


def register() -> None:
    from rapport.activities import (
        demo,
        events,  # noqa: F401  (registers the event types)
        gdpr,
        panels,
        tasks,
        timeline,
    )
    from rapport.core import registry, scheduler

    gdpr.register()
    registry.add_object_type(
        registry.ObjectType(
            name="activities.activity",
            label="Activity",
            label_plural="Activities",
            customer_field="customer",
        )
    )
    registry.add_tasks(
        "activities",
        tasks.send_due_reminders,
        tasks.send_meeting_invitation,
        tasks.send_meeting_cancellation,
    )
    scheduler.every(
        "activity-reminders",
        "rapport.activities.tasks.send_due_reminders",
        dt.timedelta(minutes=1),
    )
    registry.add_nav(
        registry.NavItem(
            key="activities",
            label="My day",
            url_name="activities:my_day",
            icon="calendar-check",
            order=15,
            object_type="activities.activity",
            badge_url_name="activities:overdue_badge",
        )
    )
    # Notifications are every user's own (no object type): the bell shows for everyone.
    registry.add_nav(
        registry.NavItem(
            key="notifications",
            label="Notifications",
            url_name="activities:notifications",
            icon="bell",
            order=95,
            badge_url_name="activities:unread_badge",
        )
    )
    registry.add_panel(
        registry.Panel(
            key="activities",
            title="Open activities",
            template="activities/_customer_panel.html",
            context=panels.customer_panel_context,
            order=15,
            column="main",
        )
    )
    for kind in ("task", "call", "meeting"):
        registry.add_timeline_kind(
            registry.TimelineKind(
                kind=kind, group_key=timeline.group_key, label=timeline.folded_label
            )
        )
    registry.add_demo_loader(registry.DemoLoader(key="activities", load=demo.load, order=40))
    registry.add_merge_rule(
        registry.MergeRule(
            "activities.Activity",
            "customer",
            registry.MergeStrategy.MOVE_ALL,
            label="Activities",
        )
    )
