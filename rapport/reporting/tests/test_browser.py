"""In a real Chromium: the management dashboard draws its charts with the vendored
Chart.js under the strict CSP, a click on a bar opens the records behind it, and the
builder's preview follows the form."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from rapport.reporting import engine, services
from rapport.reporting.engine import ReportDefinition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Screenshots to look at after a run (outside the repository and the per-test var dir).
SHOTS = Path(tempfile.gettempdir()) / "rapport-screenshots"


def _login(page: Any, live_server: Any, user: Any) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"reporting_{name}.png"), full_page=True)


def test_management_dashboard_charts_open_their_records(page, live_server, world) -> None:
    services.dashboards_seed(actor=world.admin)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _login(page, live_server, world.admin)
    page.goto(f"{live_server.url}/reports/")
    expect(page.get_by_role("heading", name="Management dashboard")).to_be_visible()
    charts = page.locator("[data-report-chart][data-chart-ready='true']")
    expect(charts).to_have_count(3)
    _shot(page, "dashboard")

    tile = page.locator("section.dashboard-tile", has_text="Customers by lifecycle stage")
    canvas = tile.locator("canvas")
    # Where Chart.js drew the first bar, and which records it stands for.
    bar = canvas.evaluate(
        """c => { const chart = Chart.getChart(c); const el = chart.getDatasetMeta(0).data[0];
                  return {x: el.x, y: (el.y + el.base) / 2, label: chart.data.labels[0],
                          value: chart.data.datasets[0].data[0]}; }"""
    )
    canvas.click(position={"x": bar["x"], "y": bar["y"]})
    expect(page).to_have_url(re.compile(r"/reports/records/\?report=\d+&k=\w+"))
    expect(page.get_by_role("heading", name=re.compile(bar["label"]))).to_be_visible()
    expect(page.locator("#list-results tbody tr")).to_have_count(bar["value"])
    _shot(page, "records")
    page.locator("#list-results tbody a").first.click()
    expect(page).to_have_url(re.compile(r"/customers/\d+/"))
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_builder_preview_follows_the_form(page, live_server, world) -> None:
    _login(page, live_server, world.admin)
    page.goto(f"{live_server.url}/reports/new/")
    page.get_by_label("Records").select_option("orders")
    expect(page.get_by_label("Group by")).to_be_visible()
    page.get_by_label("Group by").select_option("ordered_at")
    expect(page.get_by_label("By", exact=True)).to_have_value("month")
    page.get_by_label("Then by").select_option("status")
    expect(page.locator("[data-report-chart][data-chart-ready='true']")).to_have_count(1)
    definition = ReportDefinition.from_dict(
        {
            "source": "orders",
            "groups": [{"field": "ordered_at", "bucket": "month"}, {"field": "status"}],
        }
    )
    rows = engine.run_report(definition, actor=world.admin).rows
    expect(page.locator(".report-table tbody tr")).to_have_count(len(rows))
    # A bad filter value is said beside the field, and the URL keeps the definition
    # (each step waits for the preview's swap, which pushes the URL).
    page.get_by_label("Field").first.select_option("total")
    expect(page).to_have_url(re.compile(r"f0_field=total"))
    page.get_by_label("Condition").select_option("gte")
    expect(page).to_have_url(re.compile(r"f0_op=gte"))
    page.locator("#id_f0_value").fill("lots")
    page.locator("#id_f0_value").press("Tab")
    expect(page.locator("#err-f0_value")).to_contain_text("is not a number")
    expect(page).to_have_url(re.compile(r"f0_value=lots"))
    _shot(page, "builder")
    page.locator("#id_f0_value").fill("40")
    page.locator("#id_f0_value").press("Tab")
    expect(page).to_have_url(re.compile(r"f0_value=40"))
    expect(page.locator("#err-f0_value")).to_have_count(0)
    page.get_by_label("Name").fill("Big orders by month")
    page.get_by_role("button", name="Save report").click()
    expect(page.get_by_role("heading", name="Big orders by month")).to_be_visible()
    expect(page.locator("[data-report-chart][data-chart-ready='true']")).to_have_count(1)
    _shot(page, "report")
