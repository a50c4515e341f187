"""Sales force automation: leads, pipelines, deals, quotes and forecasts on the customer hub."""

from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "rapport.sales"
    label = "sales"
    verbose_name = "Sales"

    def ready(self) -> None:
        from rapport.sales import registration

        registration.register()
