import datetime as dt

from django.apps import AppConfig


class DedupeConfig(AppConfig):
    name = "rapport.dedupe"
    label = "dedupe"
    verbose_name = "Duplicate detection"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from rapport.core import scheduler

        # Nightly: retrain and rescore everyone. Hourly: new and changed records only,
        # scored by the saved model (no training).
        scheduler.every("dedupe.full", "rapport.dedupe.tasks.dedupe_full", dt.timedelta(days=1))
        scheduler.every(
            "dedupe.incremental", "rapport.dedupe.tasks.dedupe_incremental", dt.timedelta(hours=1)
        )
