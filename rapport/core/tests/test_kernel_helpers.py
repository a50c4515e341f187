"""Kernel helpers: safe redirects, encrypted fields, keyset pagination, jobs, orphan recovery."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.utils import timezone

from rapport.core import crypto, jobs
from rapport.core.models import Job, JobStatus, WorkerHeartbeat
from rapport.core.pagination import SortKey, keyset_page, parse_sort
from rapport.core.redirects import safe_next
from rapport.core.worker import requeue_orphaned_tasks
from rapport.customers.models import Customer


@pytest.mark.parametrize(
    "target",
    [
        "//evil.tld",
        "/\\evil.tld",
        "https://evil.tld/x",
        "http://testserver/x",
        "javascript:alert(1)",
        "/ok\r\nLocation: http://evil.tld",
        "\\\\evil.tld",
        "",
        None,
    ],
)
def test_redirect_targets_off_our_origin_fall_back(target):
    request = RequestFactory().get("/")
    assert safe_next(request, target, "/home/") == "/home/"


def test_local_paths_are_kept():
    request = RequestFactory().get("/")
    assert safe_next(request, "/customers/?q=ann", "/") == "/customers/?q=ann"


def test_encrypted_field_round_trips_and_hides_the_plaintext():
    token = crypto.encrypt("smtp-password")
    assert "smtp-password" not in token
    assert crypto.decrypt(token) == "smtp-password"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        crypto.decrypt("not-a-token")


@pytest.mark.django_db
def test_keyset_pages_cover_every_row_once_in_both_directions():
    for i in range(53):
        # Duplicate sort values force the primary-key tie-breaker to do its job.
        Customer.objects.create(display_name=f"Name {i % 7}")
    allowed = {"name": SortKey("name", "display_name")}
    for sort in ("name", "-name"):
        key, descending = parse_sort(sort, allowed, "name")
        seen: list[int] = []
        cursor = None
        while True:
            page = keyset_page(
                Customer.objects.all(), sort_key=key, descending=descending, cursor=cursor, limit=10
            )
            seen.extend(c.pk for c in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(seen) == 53 and len(set(seen)) == 53
        names = [Customer.objects.get(pk=pk).display_name for pk in seen]
        assert names == sorted(names, reverse=descending)


def test_unknown_sort_and_forged_cursor_are_validation_errors():
    allowed = {"name": SortKey("name", "display_name")}
    with pytest.raises(ValidationError):
        parse_sort("password; DROP TABLE x", allowed, "name")
    with pytest.raises(ValidationError):
        from rapport.core.pagination import decode_cursor

        decode_cursor("eyJzIjoib3RoZXIiLCJ2IjpbMV19", "name")


@pytest.mark.django_db
def test_job_records_progress_result_and_failure():
    job = jobs.job_create(owner=None, kind="test", title="Test job")

    def body(job, progress):
        progress.set_total(3)
        for _ in range(3):
            progress.advance()
        return {"done": 3}

    assert jobs.run_job(job.pk, body) == {"done": 3}
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.total == 3 and job.percent == 100

    failing = jobs.job_create(owner=None, kind="test", title="Failing job")
    with pytest.raises(RuntimeError):
        jobs.run_job(failing.pk, lambda job, progress: (_ for _ in ()).throw(RuntimeError("boom")))
    failing.refresh_from_db()
    assert failing.status == JobStatus.FAILED and "boom" in failing.error
    assert Job.objects.count() == 2


@pytest.mark.django_db
def test_tasks_of_a_dead_worker_are_requeued_and_a_live_workers_are_not():
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    def running_task(worker_id: str) -> DBTaskResult:
        return DBTaskResult.objects.create(
            status=TaskResultStatus.RUNNING,
            args_kwargs={"args": [], "kwargs": {}},
            task_path="rapport.core.tasks.dispatch_outbox",
            backend_name="default",
            run_after=timezone.now(),
            worker_ids=[worker_id],
            exception_class_path="",
            traceback="",
        )

    WorkerHeartbeat.objects.create(worker_id="alive", hostname="h", pid=1)
    WorkerHeartbeat.objects.create(
        worker_id="dead", hostname="h", pid=2, last_seen=timezone.now() - dt.timedelta(minutes=5)
    )
    alive, dead = running_task("alive"), running_task("dead")
    assert requeue_orphaned_tasks() == 1
    alive.refresh_from_db()
    dead.refresh_from_db()
    assert alive.status == TaskResultStatus.RUNNING
    assert dead.status == TaskResultStatus.READY
