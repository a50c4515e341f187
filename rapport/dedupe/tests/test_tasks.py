"""The background tasks run as user-visible jobs with progress and are scheduled."""

from __future__ import annotations

import datetime as dt

import pytest

from rapport.core import scheduler
from rapport.core.models import Job, JobStatus
from rapport.dedupe.models import DuplicatePair, DuplicateRun, RunMode
from rapport.dedupe.tasks import dedupe_full, dedupe_incremental
from rapport.dedupe.tests.planted import build

pytestmark = pytest.mark.django_db


def test_full_then_incremental_task_record_jobs_and_runs():
    planted = build(people=80, duplicates=8, households=0)

    result = dedupe_full.call()

    job = Job.objects.get(kind="dedupe.full")
    assert job.status == JobStatus.SUCCEEDED
    assert job.done == 100 and job.total == 100
    run = DuplicateRun.objects.get(pk=result["run"])
    assert run.job_id == job.pk and run.mode == RunMode.FULL
    assert result["pairs"] == DuplicatePair.objects.count() >= len(planted.duplicate_pairs) - 1

    result = dedupe_incremental.call()
    run = DuplicateRun.objects.get(pk=result["run"])
    assert run.mode == RunMode.INCREMENTAL
    assert result["records"] == 0, "nothing changed since the full run"
    assert DuplicatePair.objects.count() == DuplicateRun.objects.get(mode=RunMode.FULL).pairs_found


def test_schedules_are_declared():
    by_name = {s.name: s for s in scheduler.declared()}
    assert by_name["dedupe.full"].every == dt.timedelta(days=1)
    assert by_name["dedupe.full"].task_path == "rapport.dedupe.tasks.dedupe_full"
    assert by_name["dedupe.incremental"].every == dt.timedelta(hours=1)
