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


@task()
def purge_erased_search_terms() -> None:
    """After an erasure: drop the person's old terms from the search index's files."""
    from rapport.customers import search

    search.purge_deleted_terms()


@task()
def bulk_apply(job_id: str) -> dict[str, Any]:
    """Tag, assign or delete every customer a list filter matches, for the job's owner."""

    def body(job: Job, progress: Progress) -> dict[str, Any]:
        from rapport.customers import selectors, services
        from rapport.identity.models import User

        if job.owner_id is None:
            raise ValueError("a bulk job acts for the user who started it")
        actor = User.objects.get(pk=job.owner_id, is_active=True)
        params = job.params
        action = "delete" if params["action"] == "delete" else "edit"
        matching = selectors.customer_list(actor=actor, action=action, filters=params["filters"])
        progress.set_total(matching.count())
        result = services.customers_bulk_matching(
            actor=actor,
            filters=params["filters"],
            action=params["action"],
            tag=params.get("tag") or "",
            owner_id=params.get("owner_id"),
            progress=lambda n: progress.advance(n, message="customers processed"),
        )
        return {"done": result.done, "skipped": result.skipped}

    return run_job(job_id, body)
