"""Periodic jobs run inside the worker: no cron for an operator to discover.

Each due job is claimed with a compare-and-swap UPDATE on `next_run_at`, so when several
workers (on several machines) look at the same schedule only one of them enqueues a run.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.utils import timezone
from django.utils.module_loading import import_string

from rapport.core.models import ScheduledJob

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    name: str
    task_path: str
    every: dt.timedelta


_schedules: dict[str, Schedule] = {}


def every(name: str, task_path: str, interval: dt.timedelta) -> None:
    """Declare a periodic job (apps call this from AppConfig.ready)."""
    _schedules[name] = Schedule(name=name, task_path=task_path, every=interval)


def declared() -> list[Schedule]:
    return list(_schedules.values())


def sync() -> None:
    """Make the ScheduledJob table match the declarations (new ones run at once)."""
    for schedule in _schedules.values():
        ScheduledJob.objects.update_or_create(
            name=schedule.name,
            defaults={
                "task_path": schedule.task_path,
                "interval_seconds": int(schedule.every.total_seconds()),
            },
        )


def run_due(worker_id: str) -> list[str]:
    """Enqueue every due job this worker wins the claim for; return their names."""
    now = timezone.now()
    started: list[str] = []
    for job in ScheduledJob.objects.filter(enabled=True, next_run_at__lte=now):
        claimed = ScheduledJob.objects.filter(pk=job.pk, next_run_at=job.next_run_at).update(
            next_run_at=now + dt.timedelta(seconds=job.interval_seconds),
            last_run_at=now,
            last_claimed_by=worker_id,
        )
        if not claimed:  # another worker got there first
            continue
        try:
            import_string(job.task_path).enqueue()
            started.append(job.name)
        except Exception:
            logger.exception("Scheduled job %s could not be enqueued", job.name)
    return started
