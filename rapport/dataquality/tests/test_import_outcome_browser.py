"""The import pages while the job runs and once it ends: the dry run's progress poll
leaves the page in place, and the result says how many rows failed, changed or not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import expect

from rapport.core.permissions import Scope
from rapport.dataquality import tasks
from rapport.dataquality.models import ImportRun
from rapport.identity.tests.factories import user_with

from .conftest import contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queued_tasks(settings: Any) -> None:
    """Tasks wait in the queue until the test runs them: the page polls a running job."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


def _log_in(page: Any, live_server: Any, user: Any) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def _run_queued(run: ImportRun, *, dry_run: bool) -> None:
    run.refresh_from_db()
    job = run.dry_run_job if dry_run else run.job
    assert job is not None
    tasks.import_file.call(run_id=str(run.pk), job_id=str(job.pk))


def _count(page: Any, name: str) -> str:
    return str(page.locator(f".import-counts [data-count={name}]").inner_text())


def test_dry_run_with_failed_rows_ends_on_its_result_not_a_blank_page(
    page: Any, live_server: Any, queued_tasks: None, write_csv: Callable[..., Path]
) -> None:
    user = user_with(Scope.OWN)
    rows = [contact(i) for i in range(1, 7)]
    for row in rows[1:]:
        row["email"] = "not-an-email"  # five of six rows fail
    path = write_csv(rows)
    _log_in(page, live_server, user)

    page.goto(f"{live_server.url}/imports/new/")
    page.get_by_label("CSV or XLSX file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and map columns").click()
    page.wait_for_url("**/mapping/")
    page.get_by_role("button", name="Check the file (dry run)").click()

    # The job is queued: the page polls its progress. A second poll comes only from the
    # fragment the first one swapped in, so the page survived the first answer.
    for _ in range(2):
        with page.expect_response(lambda r: "/progress/" in r.url):
            pass
    expect(page.get_by_role("heading", name="Checking every row…")).to_be_visible()
    # … then it finishes, and the page shows its result in place of the progress.
    _run_queued(ImportRun.objects.get(), dry_run=True)
    expect(page.locator(".import-outcome[data-outcome=warning]")).to_contain_text(
        "5 of 6 rows would fail"
    )
    page.screenshot(path="/tmp/cli-import-dry-run-result.png", full_page=True)
    assert _count(page, "created") == "1"
    assert _count(page, "failed") == "5"
    expect(page.get_by_role("heading", name="Problems found")).to_be_visible()
    expect(page.get_by_role("button", name="Import 1 row")).to_be_visible()


def test_import_with_failed_rows_warns_and_names_the_error_report(
    page: Any, live_server: Any, queued_tasks: None, write_csv: Callable[..., Path]
) -> None:
    user = user_with(Scope.OWN)
    rows = [contact(i) for i in range(1, 7)]
    for row in rows[1:]:
        row["email"] = "not-an-email"
    path = write_csv(rows)
    _log_in(page, live_server, user)

    page.goto(f"{live_server.url}/imports/new/")
    page.get_by_label("CSV or XLSX file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and map columns").click()
    page.wait_for_url("**/mapping/")
    page.get_by_role("button", name="Check the file (dry run)").click()
    _run_queued(ImportRun.objects.get(), dry_run=True)
    page.get_by_role("button", name="Import 1 row").click()
    page.wait_for_url("**/jobs/**")
    _run_queued(ImportRun.objects.get(), dry_run=False)

    progress = page.locator(".job-progress[data-outcome=warning]")
    expect(progress).to_contain_text("Finished with 5 failed")
    expect(progress).to_contain_text("1 created")
    expect(progress).to_contain_text("5 failed")
    expect(page.locator(".job-progress[data-outcome=succeeded]")).to_have_count(0)
    page.screenshot(path="/tmp/cli-import-done-warning.png", full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download error report").click()
    report = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    assert len(report.strip().splitlines()) == 6  # the header and the five failed rows

    page.goto(f"{live_server.url}/imports/{ImportRun.objects.get().pk}/")
    expect(page.locator(".import-outcome[data-outcome=warning]")).to_contain_text(
        "5 of 6 rows failed"
    )
    assert (_count(page, "created"), _count(page, "failed")) == ("1", "5")


def test_reimporting_the_same_file_reports_unchanged_rows(
    page: Any, live_server: Any, immediate_tasks: None, write_csv: Callable[..., Path]
) -> None:
    user = user_with(Scope.OWN)
    path = write_csv([contact(i) for i in range(1, 5)])
    _log_in(page, live_server, user)

    for _ in range(2):
        page.goto(f"{live_server.url}/imports/new/")
        page.get_by_label("CSV or XLSX file").set_input_files(str(path))
        page.get_by_role("button", name="Upload and map columns").click()
        page.wait_for_url("**/mapping/")
        page.get_by_role("button", name="Check the file (dry run)").click()
        page.get_by_role("button", name="Import 4 rows").click()
        expect(page.locator(".job-progress[data-outcome=succeeded]")).to_be_visible()

    second = ImportRun.objects.order_by("-created_at").first()
    assert second is not None
    assert (second.created, second.updated, second.unchanged) == (0, 0, 4)
    expect(page.locator(".job-progress")).to_contain_text("4 unchanged")
    page.goto(f"{live_server.url}/imports/{second.pk}/")
    expect(page.locator(".import-outcome[data-outcome=succeeded]")).to_be_visible()
    assert (_count(page, "updated"), _count(page, "unchanged")) == ("0", "4")
    page.screenshot(path="/tmp/cli-import-unchanged.png", full_page=True)
