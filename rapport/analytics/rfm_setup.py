"""What RFM, cohorts and next-best-offer add to the shell: tasks and their schedule, the
360° page's panel, the segment field, navigation and merge/GDPR rules. Called once from
AnalyticsConfig.ready()."""

from __future__ import annotations

import datetime as dt


def register() -> None:
    from rapport.analytics import rfm_tasks
    from rapport.core import registry, scheduler

    registry.add_tasks("analytics", rfm_tasks.rfm_job, rfm_tasks.rfm_scheduled)
    scheduler.every(
        "analytics.rfm", "rapport.analytics.rfm_tasks.rfm_scheduled", dt.timedelta(days=1)
    )
    registry.add_merge_rule(
        registry.MergeRule(
            "analytics.RfmScore",
            "customer",
            registry.MergeStrategy.KEEP,
            why="derived scores: the next RFM run scores the survivor from the moved orders",
        )
    )
