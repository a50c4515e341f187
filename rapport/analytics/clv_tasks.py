"""The lifetime value fit as a background job: nightly, and when an admin asks."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from rapport.analytics import clv_services
from rapport.analytics.models.clv import ClvFitStatus
from rapport.core.jobs import Progress, job_create, run_job
from rapport.core.models import Job


@task()
def clv_fit(job_id: str | None = None) -> dict[str, Any]:
    """Fit BG/NBD and Gamma-Gamma on the orders to yesterday and store every customer's
    value; a fit the data cannot support is stored as failed with the reason."""
    if job_id is None:
        job = job_create(owner=None, kind="analytics.clv_fit", title="Lifetime value fit")
        job_id = str(job.pk)

    def body(job: Job, progress: Progress) -> dict[str, Any]:
        progress.set_total(100)

        def report(step: str, pct: int) -> None:
            progress.advance(max(0, pct - progress.done), message=step)

        fit = clv_services.clv_fit_run(job=job, requested_by=job.owner, progress=report)
        if fit.status != ClvFitStatus.SUCCEEDED:
            return {"fit": fit.pk, "fitted": False, "reason": fit.error}
        return {
            "fit": fit.pk,
            "fitted": True,
            "customers": fit.customers,
            "equity": str(fit.equity),
            "currency": fit.currency,
        }

    return run_job(job_id, body)
