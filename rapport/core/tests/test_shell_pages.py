"""Shell pages: jobs and their files are private, admin pages are for admins, record history
follows record scope."""

from __future__ import annotations

import pytest
from django.urls import reverse

from rapport.core import audit, jobs
from rapport.core.models import JobStatus
from rapport.core.permissions import Scope
from rapport.customers.models import Customer
from rapport.identity.tests.factories import UserFactory, user_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_export(settings):
    owner = user_with(Scope.ALL)
    job = jobs.job_create(owner=owner, kind="export", title="Export customers")
    files = settings.VAR_DIR / "files" / "exports"
    files.mkdir(parents=True)
    (files / "customers.csv").write_text("name\nAnn\n")
    job.status = JobStatus.SUCCEEDED
    job.result_file = "exports/customers.csv"
    job.save()
    return owner, job


def test_a_job_file_downloads_for_its_owner(client, finished_export):
    owner, job = finished_export
    client.force_login(owner)
    response = client.get(reverse("core:job_download", args=[job.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"name\nAnn\n"


def test_a_job_file_is_not_found_for_anyone_else(client, finished_export):
    _, job = finished_export
    client.force_login(user_with(Scope.ALL))
    assert client.get(reverse("core:job_download", args=[job.pk])).status_code == 404
    assert client.get(reverse("core:job_detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("core:job_progress", args=[job.pk])).status_code == 404


def test_an_admin_may_download_any_job_file(client, finished_export):
    _, job = finished_export
    client.force_login(UserFactory(is_superuser=True))
    assert client.get(reverse("core:job_download", args=[job.pk])).status_code == 200


def test_a_job_file_outside_the_files_folder_is_refused(client, finished_export):
    owner, job = finished_export
    job.result_file = "../secret_key"
    job.save()
    client.force_login(owner)
    assert client.get(reverse("core:job_download", args=[job.pk])).status_code == 404


def test_progress_fragment_polls_until_the_job_finishes(client):
    owner = user_with(Scope.ALL)
    job = jobs.job_create(owner=owner, kind="import", title="Import")
    client.force_login(owner)
    running = client.get(reverse("core:job_progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 1s"' in running.content.decode()
    job.status = JobStatus.SUCCEEDED
    job.save()
    done = client.get(reverse("core:job_progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert "every 1s" not in done.content.decode()
    assert done["HX-Trigger"] == "job-finished"


@pytest.mark.parametrize("url_name", ["core:tasks", "core:audit_log"])
def test_admin_pages_are_forbidden_to_other_users(client, url_name):
    client.force_login(user_with(Scope.ALL))
    assert client.get(reverse(url_name)).status_code == 403
    client.force_login(UserFactory(is_superuser=True))
    assert client.get(reverse(url_name)).status_code == 200


def test_record_history_follows_record_scope(client):
    owner = user_with(Scope.OWN)
    stranger = user_with(Scope.OWN)
    customer = Customer.objects.create(display_name="Ann Lee", owner=owner)
    audit.record_created(actor=owner, obj=customer)
    url = reverse("core:history", args=["customers.customer", customer.pk])
    client.force_login(owner)
    response = client.get(url)
    assert response.status_code == 200 and "Ann Lee" in response.content.decode()
    client.force_login(stranger)
    assert client.get(url).status_code == 404
    assert client.get(reverse("core:history", args=["no.such", "1"])).status_code == 404


def test_pages_need_a_login(client):
    response = client.get(reverse("core:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("identity:login"))


def test_navigation_hides_types_the_user_may_not_view(client):
    no_customers = user_with(Scope.ALL, object_types=("commerce.order",))
    client.force_login(no_customers)
    html = client.get(reverse("core:home")).content.decode()
    assert 'href="/customers/"' not in html
    client.force_login(user_with(Scope.OWN))
    assert 'href="/customers/"' in client.get(reverse("core:home")).content.decode()


def test_the_shell_offers_no_dead_ends_for_capabilities_not_installed(client):
    """Sales, service, marketing and analytics appear once their apps register real pages,
    not before as "coming later" links."""
    client.force_login(user_with(Scope.ALL))
    for url in (reverse("core:home"), reverse("customers:list")):
        page = client.get(url).content.decode()
        assert "Coming in a later release" not in page
        assert 'class="nav-link soon' not in page
        for label in ("Sales", "Service", "Marketing", "Analytics"):
            assert f"<span>{label}</span>" not in page
