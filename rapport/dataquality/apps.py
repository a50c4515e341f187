from __future__ import annotations

import datetime as dt

from django.apps import AppConfig


class DataQualityConfig(AppConfig):
    name = "rapport.dataquality"
    label = "dataquality"
    verbose_name = "Data quality"

    def ready(self) -> None:
        from rapport.core import registry, scheduler

        registry.add_nav(
            registry.NavItem(
                key="imports",
                label="Import & export",
                url_name="dataquality:import_list",
                icon="upload",
                order=80,
                object_type="customers.customer",
            )
        )
        scheduler.every(
            "dataquality.prune_uploads",
            "rapport.dataquality.tasks.prune_uploads",
            dt.timedelta(hours=1),
        )
