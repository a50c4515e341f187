import datetime as dt

from django.apps import AppConfig
from django.core import checks


class DedupeConfig(AppConfig):
    name = "rapport.dedupe"
    label = "dedupe"
    verbose_name = "Duplicate detection"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from rapport.core import registry, scheduler
        from rapport.dedupe import check, demo, gdpr, panels, system_checks, tasks

        registry.set_person_matcher(check.likely_duplicates)

        registry.add_tasks("dedupe", tasks.dedupe_full)

        # Nightly: retrain and rescore everyone. Hourly: new and changed records only,
        # scored by the saved model (no training).
        scheduler.every("dedupe.full", "rapport.dedupe.tasks.dedupe_full", dt.timedelta(days=1))
        scheduler.every(
            "dedupe.incremental", "rapport.dedupe.tasks.dedupe_incremental", dt.timedelta(hours=1)
        )
        gdpr.register()
        checks.register(system_checks.merge_rules_check)
        for field in ("customer_a", "customer_b"):
            registry.add_merge_rule(
                registry.MergeRule(
                    "dedupe.DuplicatePair",
                    field,
                    registry.MergeStrategy.KEEP,
                    why="pairs with a merged-away record leave the queue while it is merged "
                    "and come back if the merge is undone",
                )
            )
        for field in ("survivor", "loser"):
            registry.add_merge_rule(
                registry.MergeRule(
                    "dedupe.CustomerMerge",
                    field,
                    registry.MergeStrategy.KEEP,
                    why="the merge history stays with the records it is about",
                )
            )
        registry.add_demo_loader(registry.DemoLoader(key="dedupe", load=demo.load, order=30))
        registry.add_nav(
            registry.NavItem(
                key="duplicates",
                label="Duplicates",
                url_name="dedupe:queue",
                icon="copy",
                order=85,
                object_type="customers.customer",
            )
        )
        registry.add_panel(
            registry.Panel(
                key="duplicates",
                title="Duplicates & merges",
                template="dedupe/_customer_panel.html",
                context=panels.customer_panel_context,
                order=90,
                column="side",
            )
        )
