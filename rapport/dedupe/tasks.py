"""Background duplicate detection: nightly full runs and hourly incremental ones, each a
user-visible job with progress (rapport.core.jobs)."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from rapport.core.jobs import Progress, job_create, run_job
from rapport.core.models import Job
from rapport.dedupe import engine, services
from rapport.dedupe.models import RunStatus


def _body(mode: str, threshold: float) -> Any:
    def body(job: Job, progress: Progress) -> dict[str, Any]:
        progress.set_total(100)

        def report(step: str, pct: int) -> None:
            progress.advance(max(0, pct - progress.done), message=step)

        if mode == "incremental":
            run, _pairs = services.run_incremental(threshold=threshold, progress=report, job=job)
        else:
            run, _det = services.run_full(threshold=threshold, progress=report, job=job)
        if run.status == RunStatus.UNTRAINED:
            return {"run": run.pk, "records": run.records, "trained": False, "reason": run.error}
        merged = services.auto_merge()
        return {
            "auto_merged": merged,
            "run": run.pk,
            "records": run.records,
            "pairs": run.pairs_found,
            "clusters": run.clusters_found,
        }

    return body


def _run(mode: str, threshold: float, job_id: str | None) -> dict[str, Any]:
    if job_id is None:
        job = job_create(
            owner=None,
            kind=f"dedupe.{mode}",
            title=f"Duplicate detection ({mode})",
            params={"threshold": threshold},
        )
        job_id = str(job.pk)
    return run_job(job_id, _body(mode, threshold))


@task()
def dedupe_full(
    threshold: float = engine.DEFAULT_THRESHOLD, job_id: str | None = None
) -> dict[str, Any]:
    """Retrain the model and rescore every person (nightly)."""
    return _run("full", threshold, job_id)


@task()
def dedupe_incremental(
    threshold: float = engine.DEFAULT_THRESHOLD, job_id: str | None = None
) -> dict[str, Any]:
    """Score new and changed persons against everyone with the saved model (hourly)."""
    return _run("incremental", threshold, job_id)
