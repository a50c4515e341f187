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
        from rapport.integrations import consumers, gdpr, tasks  # noqa: F401

        gdpr.register()
        registry.add_tasks("integrations", tasks.send_due_webhooks)

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
        # Webhooks are for administrators (no role grants them), but an integration's key
        # must be able to manage its own subscriptions and nothing else.
        registry.add_api_key_object_type(
            registry.ObjectType(
                name="integrations.webhookendpoint",
                label="Webhooks (administrators)",
                label_plural="Webhooks (administrators)",
                actions=("view", "create", "edit", "delete"),
            )
        )
        scheduler.every(
            "webhook-sweep",
            "rapport.integrations.tasks.send_due_webhooks",
            dt.timedelta(seconds=30),
        )
