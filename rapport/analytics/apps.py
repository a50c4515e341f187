from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "rapport.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from rapport.analytics import rfm_setup

        rfm_setup.register()
