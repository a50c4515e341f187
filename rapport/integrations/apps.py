import datetime as dt

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "rapport.integrations"
    label = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from rapport.core import registry, scheduler

        # Importing the consumer registers it with the outbox: events written from now on
        # list "webhooks" among their pending consumers.
        from rapport.integrations import consumers, gdpr  # noqa: F401

        gdpr.register()

        registry.add_nav(
            registry.NavItem(
                key="integrations",
                label="Integrations",
                url_name="integrations:list",
                icon="plug",
                order=90,
                object_type="integrations.webhookendpoint",
            )
        )
        scheduler.every(
            "webhook-sweep",
            "rapport.integrations.tasks.send_due_webhooks",
            dt.timedelta(seconds=30),
        )
