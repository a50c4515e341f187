from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "rapport.reporting"
    label = "reporting"
    verbose_name = "Reporting"

    def ready(self) -> None:
        from rapport.reporting import registrations

        registrations.register()
