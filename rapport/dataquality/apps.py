from __future__ import annotations

import datetime as dt

from django.apps import AppConfig


class DataQualityConfig(AppConfig):
    name = "rapport.dataquality"
    label = "dataquality"
    verbose_name = "Data quality"

    def ready(self) -> None:
        from rapport.core import registry, scheduler
        from rapport.dataquality import gdpr, tasks

        gdpr.register()
        registry.add_tasks(
            "dataquality",
            tasks.import_file,
            tasks.export_file,
            tasks.report_job,
            tasks.cleanse_job,
            tasks.rescore_job,
        )

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
        registry.add_nav(
            registry.NavItem(
                key="data_quality",
                label="Data quality",
                url_name="dataquality:quality_report",
                icon="sparkles",
                order=75,
                object_type="customers.customer",
            )
        )
        scheduler.every(
            "customers.quality_rescore",
            "rapport.dataquality.tasks.rescore_scheduled",
            dt.timedelta(days=1),
        )
        scheduler.every(
            "dataquality.quality_report",
            "rapport.dataquality.tasks.report_scheduled",
            dt.timedelta(hours=1),
        )
        scheduler.every(
            "dataquality.prune_uploads",
            "rapport.dataquality.tasks.prune_uploads",
            dt.timedelta(hours=1),
        )
