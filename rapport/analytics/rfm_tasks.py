"""Background tasks of RFM scoring and next-best-offer recommendations."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from rapport.core.jobs import run_job


@task()
def rfm_job(*, job_id: str) -> dict[str, Any]:
    from rapport.analytics.rfm import rfm_execute

    return run_job(job_id, rfm_execute)


@task()
def rfm_scheduled() -> dict[str, Any]:
    """Every customer's RFM scores, recomputed daily: recency moves with the calendar."""
    from rapport.analytics.rfm import rfm_scheduled as run

    return run()


@task()
def recommend_job(*, job_id: str) -> dict[str, Any]:
    from rapport.analytics.recommend import recommend_execute

    return run_job(job_id, recommend_execute)


@task()
def recommend_scheduled() -> dict[str, Any]:
    """Every customer's next best offers, recomputed daily from the new orders."""
    from rapport.analytics.recommend import recommendations_scheduled

    return recommendations_scheduled()


@task()
def recommend_evaluate_job(*, job_id: str) -> dict[str, Any]:
    from rapport.analytics.recommend import evaluate_execute

    return run_job(job_id, evaluate_execute)
