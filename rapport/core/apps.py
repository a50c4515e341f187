import datetime as dt

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "rapport.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from rapport.core import gdpr, postgres, registry, scheduler

        connection_created.connect(postgres.on_connection_created)
        gdpr.register()

        # Capabilities on the road: visible in the shell with an empty state until their
        # apps arrive and register real entries under the same keys.
        for order, (key, label, icon) in enumerate(
            [
                ("sales", "Sales", "trending-up"),
                ("service", "Service", "headset"),
                ("marketing", "Marketing", "megaphone"),
                ("analytics", "Analytics", "bar-chart"),
            ]
        ):
            registry.add_nav(
                registry.NavItem(
                    key=key,
                    label=label,
                    url_name="core:coming_soon",
                    url_args=(key,),
                    icon=icon,
                    order=50 + order,
                    available=False,
                )
            )

        scheduler.every(
            "outbox-sweep", "rapport.core.tasks.dispatch_outbox", dt.timedelta(seconds=30)
        )
        scheduler.every("prune-outbox", "rapport.core.tasks.prune_outbox", dt.timedelta(hours=6))
        scheduler.every(
            "prune-idempotency-records",
            "rapport.core.tasks.prune_idempotency_records",
            dt.timedelta(hours=1),
        )
