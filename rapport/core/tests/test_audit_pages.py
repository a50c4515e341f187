"""The audit log and record history as people read them: keyset pages that keep their
filters, field labels, names for foreign keys (within record scope), dates in the locale's
format, and a constant number of queries however many people a page names."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from rapport.core import audit, humanize
from rapport.core.models import AuditAction
from rapport.core.permissions import Scope
from rapport.customers.models import Customer
from rapport.identity.tests.factories import UserFactory, user_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(is_superuser=True, full_name="Ada Admin")


def _assign(actor, customer, owner):
    audit.record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=customer,
        changes={
            "owner_id": [None, owner.pk],
            "lifecycle_stage": ["lead", "customer"],
            "lifecycle_changed_at": [None, "2026-12-03T17:00:25.258120+00:00"],
            "job_title": ["", "Engineer"],
        },
    )


def test_the_audit_log_shows_labels_names_and_local_dates(client, admin):
    owner = UserFactory(full_name="Olivia Owner")
    customer = Customer.objects.create(display_name="Ann Lee", owner=owner)
    _assign(admin, customer, owner)
    client.force_login(admin)
    html = client.get(reverse("core:audit_log")).content.decode()
    assert "Olivia Owner" in html and "owner_id" not in html
    assert "Lifecycle stage" in html and "Job title" in html and "job_title" not in html
    assert ">Customer<" in html or "Customer " in html
    assert "customers.customer" not in html.split("<tbody>", 1)[1].split("</tbody>")[0].replace(
        "object_type=customers.customer", ""
    )
    visible = re.sub(r'datetime="[^"]*"', "", html)  # machine-readable attributes aside
    assert ".258120" not in visible and "2026-12-03T17" not in visible  # no raw ISO


def test_a_created_record_folds_its_long_change_list(client, admin):
    customer = Customer.objects.create(display_name="Ann Lee", owner=admin)
    changes = {f"field_{i}": [None, str(i)] for i in range(10)}
    audit.record(actor=admin, action=AuditAction.CREATE, obj=customer, changes=changes)
    client.force_login(admin)
    html = client.get(reverse("core:audit_log")).content.decode()
    assert "6 more changes" in html
    [row] = humanize.audit_rows(
        audit.AuditLogEntry.objects.filter(object_id=str(customer.pk)), actor=admin
    )
    assert len(row.shown) == 4 and len(row.folded) == 6


def test_the_audit_log_is_keyset_paged_and_keeps_its_filters(client, admin):
    customer = Customer.objects.create(display_name="Ann Lee", owner=admin)
    for i in range(55):
        audit.record(
            actor=admin, action=AuditAction.UPDATE, obj=customer, changes={"note": [None, i]}
        )
    audit.record(actor=admin, action=AuditAction.EXPORT, obj=customer)  # filtered out
    client.force_login(admin)
    first = client.get(reverse("core:audit_log"), {"action": "update"})
    html = first.content.decode()
    assert html.count('<span class="badge">Updated</span>') == 50
    next_url = re.search(r'href="(\?[^"]*cursor=[^"]*)" rel="next"', html).group(1)
    assert "action=update" in next_url
    second = client.get(reverse("core:audit_log") + next_url.replace("&amp;", "&"))
    page_two = second.content.decode()
    assert page_two.count('<span class="badge">Updated</span>') == 5
    assert '<span class="badge">Exported</span>' not in page_two and 'rel="next"' not in page_two
    bad = client.get(reverse("core:audit_log"), {"cursor": "nonsense"})
    assert bad.status_code == 400 and "cursor" in bad.content.decode()


def test_the_audit_log_names_people_in_a_constant_number_of_queries(
    client, admin, django_assert_max_num_queries
):
    def page_with(n):
        for _ in range(n):
            owner = UserFactory()
            customer = Customer.objects.create(display_name="C", owner=owner)
            _assign(admin, customer, owner)

    client.force_login(admin)
    page_with(2)
    client.get(reverse("core:audit_log"))  # warm the session and the content types
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("core:audit_log"))
    page_with(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(reverse("core:audit_log")).content.decode()
    assert html.count("→ Customer") == 32


def test_history_names_only_records_the_viewer_may_see(client):
    viewer = user_with(Scope.OWN)
    stranger = user_with(Scope.OWN)
    hidden = Customer.objects.create(display_name="Secret Org", owner=stranger)
    mine = Customer.objects.create(display_name="Ann Lee", owner=viewer)
    audit.record(
        actor=viewer,
        action=AuditAction.UPDATE,
        obj=mine,
        changes={"merged_into_id": [None, hidden.pk]},
    )
    client.force_login(viewer)
    html = client.get(reverse("core:history", args=["customers.customer", mine.pk])).content
    assert b"Secret Org" not in html and f"#{hidden.pk}".encode() in html


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (86400, "1 day"),
        (30, "30 seconds"),
        (90, "1 minute 30 seconds"),
        (7200, "2 hours"),
        (90061, "1 day 1 hour"),
        (1, "1 second"),
    ],
)
def test_durations_read_in_words(seconds, words):
    assert humanize.duration(seconds) == words


def test_the_tasks_page_shows_intervals_in_words(client, admin):
    from datetime import timedelta

    from django.utils import timezone

    from rapport.core.models import ScheduledJob

    ScheduledJob.objects.create(
        name="rescore_quality",
        task_path="x.y",
        interval_seconds=86400,
        next_run_at=timezone.now() + timedelta(hours=1),
    )
    client.force_login(admin)
    html = client.get(reverse("core:tasks")).content.decode()
    assert "1 day" in html and "86400" not in html and "Rescore quality" in html


def test_a_job_page_shows_its_result_in_words(client, admin):
    from rapport.core import jobs

    job = jobs.job_create(owner=admin, kind="import", title="Import contacts")
    job.result = {"rows_written": 1200}
    job.save()
    client.force_login(admin)
    html = client.get(reverse("core:job_detail", args=[job.pk])).content.decode()
    assert "Rows written" in html and "1,200" in html and "rows_written" not in html
