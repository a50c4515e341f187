"""The churn tasks: the admin's job trains and scores with progress; the scheduled ones
run without a user; the schedule is declared."""

from __future__ import annotations

from django.utils import timezone

from rapport.analytics import churn_services, churn_tasks
from rapport.analytics.models import ChurnModelRun, ChurnScore
from rapport.analytics.tests import churn_world
from rapport.core import scheduler
from rapport.core.jobs import job_create
from rapport.core.models import Job, JobStatus
from rapport.identity.tests.factories import UserFactory


def test_train_job_trains_scores_and_reports(db):
    admin = UserFactory(is_superuser=True)
    churn_world.build(now=timezone.now())
    job = job_create(owner=admin, kind=churn_services.TRAIN_JOB_KIND, title="Train")
    result = churn_tasks.churn_train_job.call(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert result["status"] == "trained"
    assert result["scored"] == ChurnScore.objects.count() > 0
    assert job.done >= 160  # customers looked at while scoring
    run = ChurnModelRun.objects.get(pk=result["run"])
    assert run.scored_count == result["scored"]


def test_train_job_with_no_data_succeeds_and_says_why(db):
    admin = UserFactory(is_superuser=True)
    job = job_create(owner=admin, kind=churn_services.TRAIN_JOB_KIND, title="Train")
    result = churn_tasks.churn_train_job.call(job_id=str(job.pk))
    assert result["status"] == "insufficient"
    assert "needs at least" in result["message"]
    assert Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED


def test_scheduled_tasks_run_as_the_system(db):
    churn_world.build(now=timezone.now())
    assert churn_tasks.churn_score_scheduled.call() == 0  # no model yet
    result = churn_tasks.churn_train_scheduled.call()
    assert result["status"] == "trained"
    assert Job.objects.get(kind=churn_services.TRAIN_JOB_KIND).owner is None
    assert churn_tasks.churn_score_scheduled.call() == result["scored"]


def test_schedule_is_declared():
    names = {s.name: s.task_path for s in scheduler.declared()}
    assert names["analytics.churn_train"].endswith("churn_train_scheduled")
    assert names["analytics.churn_score"].endswith("churn_score_scheduled")
