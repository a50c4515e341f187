import datetime as dt

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "rapport.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from rapport.core import gdpr_contributors, postgres, registry, scheduler, tasks

        connection_created.connect(postgres.on_connection_created)
        gdpr_contributors.register()
        registry.add_tasks("core", tasks.dispatch_outbox)

        scheduler.every(
            "outbox-sweep", "rapport.core.tasks.dispatch_outbox", dt.timedelta(seconds=30)
        )
        scheduler.every("prune-outbox", "rapport.core.tasks.prune_outbox", dt.timedelta(hours=6))
        scheduler.every(
            "prune-idempotency-records",
            "rapport.core.tasks.prune_idempotency_records",
            dt.timedelta(hours=1),
        )
