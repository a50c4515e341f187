"""Issue 17.3/17.5 in a real Chromium: the wizard's dry run of an unchanged export says
nothing would be created or updated and every row is unchanged, and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import expect

from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers.models import Customer
from rapport.dataquality.exporting import export_contacts
from rapport.dataquality.models import ImportRun
from rapport.dataquality.services import run_import
from rapport.identity.tests.factories import user_with

from .conftest import contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = 8


def _log_in(page: Any, live_server: Any, user: Any) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def _count(page: Any, name: str) -> Any:
    return page.locator(f".import-counts [data-count={name}]")


def test_the_wizards_dry_run_of_an_unchanged_export_says_every_row_unchanged(
    page: Any,
    live_server: Any,
    immediate_tasks: None,
    tmp_path: Path,
    write_csv: Callable[..., Path],
) -> None:
    user = user_with(Scope.OWN)
    rows = [contact(i, organization="Acme" if i % 2 else "") for i in range(1, ROWS + 1)]
    first, _ = run_import(
        actor=user, object_type="contacts", path=write_csv(rows), mapping=None, owner_id=user.pk
    )
    assert first.created == ROWS, first.errors
    export = tmp_path / "export.csv"
    export_contacts(actor=user, filters={"kind": "person"}, target=export, file_format="csv")
    versions = dict(Customer.objects.values_list("pk", "version"))
    audit_rows, events = AuditLogEntry.objects.count(), OutboxEvent.objects.count()
    _log_in(page, live_server, user)

    page.goto(f"{live_server.url}/imports/new/")
    page.get_by_label("CSV or XLSX file").set_input_files(str(export))
    page.get_by_role("button", name="Upload and map columns").click()
    page.wait_for_url("**/mapping/")
    page.get_by_role("button", name="Check the file (dry run)").click()

    expect(_count(page, "unchanged")).to_have_text(str(ROWS))
    page.screenshot(path="/tmp/dryrun-unchanged-export.png", full_page=True)
    expect(_count(page, "created")).to_have_text("0")
    expect(_count(page, "updated")).to_have_text("0")
    expect(_count(page, "failed")).to_have_text("0")
    assert dict(Customer.objects.values_list("pk", "version")) == versions
    assert (AuditLogEntry.objects.count(), OutboxEvent.objects.count()) == (audit_rows, events)

    # The import agrees with its dry run.
    page.get_by_role("button", name=f"Import {ROWS} rows").click()
    page.wait_for_selector("[data-status=succeeded]")
    run = ImportRun.objects.get()
    assert (run.created, run.updated, run.unchanged, run.failed) == (0, 0, ROWS, 0)
    assert dict(Customer.objects.values_list("pk", "version")) == versions
