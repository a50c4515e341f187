"""User-visible background jobs: create one, run it in a task, report progress."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from rapport.core.models import Job, JobStatus

logger = logging.getLogger(__name__)


def job_create(*, owner: Any, kind: str, title: str, params: dict[str, Any] | None = None) -> Job:
    return Job.objects.create(
        owner=owner if getattr(owner, "is_authenticated", False) else None,
        kind=kind,
        title=title,
        params=params or {},
    )


class Progress:
    """Progress reporting for a running job, throttled to one write per `every` items."""

    def __init__(self, job: Job | None, *, total: int | None = None, every: int = 1000) -> None:
        self.job = job
        self.every = every
        self._last_written = 0
        self.done = 0
        if job is not None and total is not None:
            Job.objects.filter(pk=job.pk).update(total=total)
            job.total = total

    def set_total(self, total: int) -> None:
        if self.job is not None:
            Job.objects.filter(pk=self.job.pk).update(total=total)
            self.job.total = total

    def advance(self, n: int = 1, message: str = "") -> None:
        self.done += n
        if self.job is not None and (self.done - self._last_written >= self.every or message):
            self._last_written = self.done
            fields: dict[str, Any] = {"done": self.done}
            if message:
                fields["message"] = message[:255]
            Job.objects.filter(pk=self.job.pk).update(**fields)


def run_job(job_id: Any, body: Callable[[Job, Progress], dict[str, Any]]) -> dict[str, Any]:
    """Run `body` for the job, recording start, result or failure. Safe to run again."""
    job = Job.objects.get(pk=job_id)
    if job.status == JobStatus.SUCCEEDED:
        return job.result
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), error=""
    )
    progress = Progress(job)
    try:
        result = body(job, progress)
    except Exception as exc:
        logger.exception("Job %s failed", job.pk)
        with transaction.atomic():
            Job.objects.filter(pk=job.pk).update(
                status=JobStatus.FAILED,
                finished_at=timezone.now(),
                error=f"{type(exc).__name__}: {exc}"[:4000],
                message="Failed",
            )
        logger.debug("".join(traceback.format_exception(exc)))
        raise
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED,
        finished_at=timezone.now(),
        done=progress.done,
        result=result,
        message="Done",
    )
    return result
