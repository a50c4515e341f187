"""Background tasks of the customer data hub."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from rapport.core.jobs import Progress, run_job
from rapport.core.models import Job


@task()
def export_personal_data(job_id: str) -> dict[str, Any]:
    """Build a person's GDPR archive for the job that asked for it."""

    def body(job: Job, progress: Progress) -> dict[str, Any]:
        from rapport.customers import gdpr

        relative = gdpr.build_archive(int(job.params["customer_id"]), str(job.pk))
        Job.objects.filter(pk=job.pk).update(result_file=relative)
        progress.advance(1, "Archive ready")
        return {"file": relative}

    return run_job(job_id, body)
