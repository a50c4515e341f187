"""The import wizard in a real Chromium: upload, map, dry run, import, progress, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from rapport.core.permissions import Scope
from rapport.customers.models import Customer
from rapport.dataquality.models import ImportMapping, ImportRun
from rapport.identity.tests.factories import user_with

from .conftest import contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page: Any, live_server: Any, user: Any) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def test_import_wizard_end_to_end(
    page: Any, live_server: Any, immediate_tasks: None, write_csv: Callable[..., Path]
) -> None:
    user = user_with(Scope.OWN)
    rows = [contact(i, organization="Acme" if i % 2 else "") for i in range(1, 13)]
    rows[4]["email"] = "not-an-email"
    rows[7]["birth_date"] = "12/31/1990"
    path = write_csv(
        [{**r, "E-mail address": r["email"], "Surname": r["last_name"]} for r in rows],
        header=[
            "external_id",
            "first_name",
            "Surname",
            "E-mail address",
            "phone",
            "organization",
            "birth_date",
            "city",
            "postcode",
            "country",
            "tags",
        ],
    )
    _log_in(page, live_server, user)

    page.goto(f"{live_server.url}/imports/")
    page.screenshot(path="/tmp/impex-1-history-empty.png", full_page=True)
    page.get_by_role("link", name="Start an import").click()
    page.get_by_label("CSV or XLSX file").set_input_files(str(path))
    page.screenshot(path="/tmp/impex-2-upload.png", full_page=True)
    page.get_by_role("button", name="Upload and map columns").click()

    page.wait_for_url("**/mapping/")
    # Suggested from the headers: aliases and fuzzy matches.
    assert page.get_by_label("Surname").input_value() == "last_name"
    assert page.get_by_label("E-mail address").input_value() == "email"
    page.get_by_label("Save this mapping as").fill("CRM export")
    page.screenshot(path="/tmp/impex-3-mapping.png", full_page=True)
    page.get_by_role("button", name="Check the file (dry run)").click()

    page.wait_for_selector("text=Problems found")
    page.screenshot(path="/tmp/impex-4-dry-run.png", full_page=True)
    table = page.locator("table").last
    assert "not a valid e-mail address" in table.inner_text()
    assert "12/31/1990" in table.inner_text()
    assert Customer.objects.count() == 0  # the dry run wrote nothing
    assert ImportMapping.objects.filter(owner=user, name="CRM export").exists()

    page.get_by_role("button", name="Import 10 rows").click()
    page.wait_for_selector("[data-status=succeeded]")
    page.screenshot(path="/tmp/impex-5-done.png", full_page=True)
    assert Customer.objects.filter(kind="person", owner=user).count() == 10
    run = ImportRun.objects.get()
    assert (run.created, run.failed) == (10, 2)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download error report").click()
    report = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    assert "reason" in report.splitlines()[0]
    assert len(report.strip().splitlines()) == 3

    page.goto(f"{live_server.url}/imports/")
    page.screenshot(path="/tmp/impex-6-history.png", full_page=True)
    assert "contacts.csv" in page.locator("table").inner_text()


def test_export_page_runs_a_job_and_offers_the_download(
    page: Any, live_server: Any, immediate_tasks: None
) -> None:
    user = user_with(Scope.OWN)
    Customer.objects.bulk_create(
        [
            Customer(first_name="P", last_name=f"N{i}", display_name=f"P N{i}", owner=user,
                     country="FR" if i % 2 else "DE")
            for i in range(40)
        ]
    )  # fmt: skip
    _log_in(page, live_server, user)
    page.goto(f"{live_server.url}/exports/new/?object_type=customers.customer&country=FR")
    assert "20" in page.locator("dl.facts").inner_text()
    page.get_by_label("Format").select_option("xlsx")
    page.screenshot(path="/tmp/impex-7-export.png", full_page=True)
    page.get_by_role("button", name="Start export").click()
    page.wait_for_selector("[data-status=succeeded]")
    page.screenshot(path="/tmp/impex-8-export-done.png", full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download result").click()
    assert download_info.value.suggested_filename.endswith(".xlsx")
