"""Hostile files through the real upload page in Chromium: each is refused on the upload
page with its message, and no import is created."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from rapport.core.permissions import Scope
from rapport.dataquality.models import ImportRun
from rapport.identity.tests.factories import user_with

from .test_import_wizard_browser import _log_in
from .test_sources import write_zip_bomb

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_wide_csv_and_zip_bomb_are_refused_on_the_upload_page(
    page: Any, live_server: Any, tmp_path: Path
) -> None:
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(50_000)) + "\nx\n")
    bomb = tmp_path / "bomb.xlsx"
    write_zip_bomb(bomb, 150)
    _log_in(page, live_server, user_with(Scope.OWN))

    for path, message in (
        (wide, "wide.csv: the header row has 50,000 columns"),
        (bomb, "IMPORT_MAX_COMPRESSION_RATIO"),
    ):
        page.goto(f"{live_server.url}/imports/new/")
        page.get_by_label("CSV or XLSX file").set_input_files(str(path))
        page.get_by_role("button", name="Upload and map columns").click()
        expect(page.get_by_text(message)).to_be_visible()
        expect(page).to_have_url(f"{live_server.url}/imports/new/")
        page.screenshot(path=str(tmp_path / f"refused-{path.stem}.png"), full_page=True)
    assert not ImportRun.objects.exists()
