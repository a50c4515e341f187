"""What service adds to the shared pieces (called once from ServiceConfig.ready)."""

from __future__ import annotations

import datetime as dt


def register() -> None:
    from rapport.core import registry, scheduler
    from rapport.service import (
        demo,
        events,  # noqa: F401  (registers the event types)
        gdpr,
        panels,
        report_sources,
        tasks,
    )

    report_sources.register()

    registry.add_tasks(
        "service",
        tasks.deliver_message,
        tasks.poll_mailboxes,
        tasks.poll_mailbox,
        tasks.check_sla,
        tasks.check_stale_mailboxes,
    )
    scheduler.every(
        "service-poll-mailboxes", "rapport.service.tasks.poll_mailboxes", dt.timedelta(minutes=1)
    )
    scheduler.every("service-sla-watch", "rapport.service.tasks.check_sla", dt.timedelta(minutes=1))
    scheduler.every(
        "service-stale-mailboxes",
        "rapport.service.tasks.check_stale_mailboxes",
        dt.timedelta(minutes=5),
    )
    registry.add_object_type(
        registry.ObjectType(
            name="service.ticket", label="Ticket", label_plural="Tickets", customer_field="customer"
        )
    )
    registry.add_object_type(
        registry.ObjectType(
            name="service.settings",
            label="Service settings",
            label_plural="Service settings (mailboxes, queues, SLAs)",
            actions=("view", "edit"),
        )
    )
    registry.add_nav(
        registry.NavItem(
            key="service",
            label="Service",
            url_name="service:inbox",
            icon="headset",
            order=25,
            object_type="service.ticket",
        )
    )
    registry.add_panel(
        registry.Panel(
            key="tickets",
            title="Tickets",
            template="service/_customer_panel.html",
            context=panels.customer_panel_context,
            order=35,
            column="main",
        )
    )
    registry.add_demo_loader(registry.DemoLoader(key="service", load=demo.load, order=40))
    registry.add_merge_rule(
        registry.MergeRule(
            "service.Ticket", "customer", registry.MergeStrategy.MOVE_ALL, label="Tickets"
        )
    )
    registry.add_merge_rule(
        registry.MergeRule(
            "service.Message",
            "author_customer",
            registry.MergeStrategy.MOVE_ALL,
            label="Ticket messages",
        )
    )
    gdpr.register()
