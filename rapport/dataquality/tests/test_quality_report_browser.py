"""The data-quality report in a real Chromium: worst fields first, a fix-up with its
progress, the list it links to, and the badge on the 360 page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import expect

from rapport.customers import quality
from rapport.customers.models import Address, Customer, PhoneNumber
from rapport.customers.services import AddressInput
from rapport.customers.tests.factories import organization, person
from rapport.identity.tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page: Any, live_server: Any, user: Any) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def _messy_customers(admin: Any) -> Customer:
    """A small book of customers, some as an old system left them."""
    first = None
    for i in range(24):
        c = person(
            admin,
            f"Person{i}",
            "Example",
            emails=[f"p{i}@example.org"] if i % 5 else [],
            birth_date="1980-05-01" if i % 3 else None,
            addresses=[
                AddressInput(line1=f"{i} High St", city="London", postcode="SW1A 1AA", country="GB")
            ]
            if i % 4
            else [],
        )
        first = first or c
        if i % 2:  # national-format phones from a legacy system
            PhoneNumber.objects.create(customer=c, e164="020 7946 0958", is_primary=True)
            Customer.objects.filter(pk=c.pk).update(primary_phone="020 7946 0958")
        if i % 6 == 1:
            Address.objects.filter(customer=c).update(postcode="sw1a1aa", country="uk")
        if i % 7 == 2:
            Customer.objects.filter(pk=c.pk).update(last_name="EXAMPLE")
    organization(admin, "Analytical Engines Ltd")
    quality.rescore()
    assert first is not None
    return first


def test_report_fixup_and_badge(page: Any, live_server: Any, immediate_tasks: None) -> None:
    admin = UserFactory(is_superuser=True, is_staff=True)
    first = _messy_customers(admin)
    _log_in(page, live_server, admin)

    page.goto(f"{live_server.url}/data-quality/")
    assert page.get_by_role("heading", name="Data quality").is_visible()
    rows = page.locator("table.quality-table tbody th[scope=row]").all_inner_texts()
    assert rows[0].startswith("Phone")  # worst first: most records lack a valid phone
    page.screenshot(path="/tmp/quality-1-report.png", full_page=True)

    phone_row = page.locator("tr", has=page.locator("th", has_text="Phone"))
    assert phone_row.locator("td").nth(2).inner_text() == "12"  # not normalised
    phone_row.get_by_text("Re-normalise phones to E.164…").click()
    page.screenshot(path="/tmp/quality-2-confirm.png", full_page=True)
    phone_row.get_by_role("button", name="Run the fix-up").click()
    page.wait_for_selector(".job-progress[data-status=succeeded]")
    phone_row = page.locator("tr", has=page.locator("th", has_text="Phone"))
    assert phone_row.locator("td").nth(2).inner_text() == "0"
    page.screenshot(path="/tmp/quality-3-fixed.png", full_page=True)
    assert not Customer.objects.filter(primary_phone="020 7946 0958").exists()

    page.locator("tr", has=page.locator("th", has_text="Birth date")).locator("a").first.click()
    assert "quality_issue=birth_date_missing" in page.url
    expect(page.locator("table.customer-table tbody tr")).to_have_count(8)
    page.screenshot(path="/tmp/quality-4-list.png", full_page=True)

    page.goto(f"{live_server.url}/customers/{first.pk}/")
    page.locator(".quality-details summary").click()
    assert page.locator(".quality-popover").get_by_text("No e-mail").is_visible()
    page.screenshot(path="/tmp/quality-5-badge.png")
