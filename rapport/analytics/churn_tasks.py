"""Background tasks of churn prediction: train and score on demand (a job with progress)
and on the schedule."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django_tasks import task

from rapport.analytics import churn_services
from rapport.core.jobs import Progress, job_create, run_job
from rapport.core.models import Job
from rapport.core.permissions import system_actor


def train_and_score(job: Job, progress: Progress) -> dict[str, Any]:
    """The job body: train (steps reported as messages), then score customer batches."""
    actor: Any = system_actor()
    if job.owner_id is not None:
        actor = get_user_model().objects.get(pk=job.owner_id, is_active=True)
    run = churn_services.churn_model_train(
        actor=actor, progress=lambda message: progress.advance(0, message=message)
    )
    scored = 0
    if run.status == "trained":
        scored = churn_services.churn_scores_refresh(
            actor=actor,
            run=run,
            on_batch=lambda n: progress.advance(n, message="customers scored"),
        )
    return {"run": run.pk, "status": run.status, "message": run.message, "scored": scored}


@task()
def churn_train_job(job_id: str) -> dict[str, Any]:
    """Train and score for the administrator who pressed the button."""
    return run_job(job_id, train_and_score)


@task()
def churn_train_scheduled() -> dict[str, Any]:
    """The weekly training, as a job anyone may follow on the tasks page."""
    job = job_create(owner=None, kind=churn_services.TRAIN_JOB_KIND, title="Train the churn model")
    return run_job(job.pk, train_and_score)


@task()
def churn_score_scheduled() -> int:
    """The daily scoring with the latest model (risks move as days pass without orders)."""
    return churn_services.churn_scores_refresh(actor=system_actor())
