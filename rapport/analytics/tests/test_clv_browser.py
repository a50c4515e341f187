"""In a real Chromium: the customer equity page after a fit, a click on a cohort opens the
customers behind it, and a customer's 360° page shows the lifetime value panel."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from rapport.analytics import clv_services
from rapport.analytics.models.clv import CustomerClv
from rapport.core.permissions import Scope
from rapport.identity.tests.factories import user_with

from .clv_world import CALIBRATION_END, build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, user) -> None:
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


def test_equity_drills_down_to_the_customers_and_the_panel_explains(page, live_server):
    user = user_with(Scope.ALL, full_name="Mia Marketing")
    build(40)
    fit = clv_services.clv_fit_run(calibration_end=CALIBRATION_END)
    assert fit.error == ""
    _login(page, live_server, user)
    page.goto(f"{live_server.url}/analytics/equity/")
    expect(page.get_by_role("heading", name="Customer equity", exact=True)).to_be_visible()
    cohorts = page.get_by_role("region", name="By acquisition cohort (first purchase month)")
    first = cohorts.locator("tbody tr").first
    count = int(first.locator("td").nth(1).inner_text())
    first.locator("td").first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/customers/\?clv_cohort=\d{4}-\d{2}"))
    expect(page.get_by_text(re.compile(rf"^{count} customers? match"))).to_be_visible()

    value = CustomerClv.objects.filter(fit=fit, frequency__gt=0).order_by("-clv").first()
    page.goto(f"{live_server.url}/customers/{value.customer_id}/")
    panel = page.locator('[data-panel="clv"]')
    expect(panel.get_by_text("What drives it")).to_be_visible()
    expect(panel.get_by_text(f"{value.clv:,.2f} EUR")).to_be_visible()
