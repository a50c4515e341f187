"""Audit log rows are append-only; scheduled jobs are claimed by one worker only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from rapport.core import audit, scheduler
from rapport.core.models import AuditLogEntry, ScheduledJob
from rapport.customers.models import Customer
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_audit_rows_cannot_be_changed_or_deleted():
    user = UserFactory()
    customer = Customer.objects.create(display_name="Ann")
    row = audit.record_created(actor=user, obj=customer)
    assert row.changes["display_name"] == [None, "Ann"]
    assert row.actor_id == user.pk
    with pytest.raises(TypeError):
        row.save()
    with pytest.raises(TypeError):
        row.delete()
    with pytest.raises(TypeError):
        AuditLogEntry.objects.all().delete()
    with pytest.raises(TypeError):
        AuditLogEntry.objects.update(action="delete")


def test_diff_lists_only_changed_fields():
    before = {"a": 1, "b": "x"}
    after = {"a": 1, "b": "y", "c": None}
    assert audit.diff(before, after) == {"b": ["x", "y"]}


def test_two_workers_never_run_the_same_scheduled_job(monkeypatch):
    enqueued: list[str] = []

    class FakeTask:
        def enqueue(self):
            enqueued.append("run")

    monkeypatch.setattr(scheduler, "import_string", lambda path: FakeTask())
    ScheduledJob.objects.create(
        name="sweep", task_path="x.y", interval_seconds=60, next_run_at=timezone.now()
    )
    first = scheduler.run_due("worker-a")
    second = scheduler.run_due("worker-b")
    assert first == ["sweep"] and second == []
    assert enqueued == ["run"]
    job = ScheduledJob.objects.get(name="sweep")
    assert job.last_claimed_by == "worker-a"
    assert job.next_run_at > timezone.now() + dt.timedelta(seconds=50)


def test_stale_claim_loses_the_compare_and_swap(monkeypatch):
    """A worker holding an old read of the row cannot claim a run another worker took."""
    monkeypatch.setattr(
        scheduler, "import_string", lambda path: type("T", (), {"enqueue": lambda s: None})()
    )
    job = ScheduledJob.objects.create(
        name="sweep", task_path="x.y", interval_seconds=60, next_run_at=timezone.now()
    )
    stale_next_run = job.next_run_at
    scheduler.run_due("worker-a")
    claimed = ScheduledJob.objects.filter(pk=job.pk, next_run_at=stale_next_run).update(
        last_claimed_by="worker-b"
    )
    assert claimed == 0
