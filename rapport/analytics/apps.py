from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "rapport.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from rapport.analytics import churn, clv_setup, rfm_setup

        churn.register()
        clv_setup.register()
        rfm_setup.register()
