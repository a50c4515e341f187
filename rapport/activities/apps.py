"""Activities: tasks, calls and meetings with reminders, on the customer's timeline."""

from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "rapport.activities"
    label = "activities"
    verbose_name = "Activities"

    def ready(self) -> None:
        from rapport.activities import registrations

        registrations.register()
