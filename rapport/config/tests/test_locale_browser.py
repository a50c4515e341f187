"""Real Chromium: a user picks English (UK) on the profile page and the 360 page writes
dates day first."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from rapport.customers.models import Customer
from rapport.identity.tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_chosen_locale_formats_the_360_page(page, live_server):
    UserFactory(email="ann@example.com", is_superuser=True)
    customer = Customer.objects.create(display_name="Ann Lee")
    when = dt.datetime(2026, 12, 3, 10, 30, tzinfo=dt.UTC)
    Customer.objects.filter(pk=customer.pk).update(created_at=when)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("E-mail").fill("ann@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    detail = f"{live_server.url}{customer.get_absolute_url()}"
    page.goto(detail)
    created = page.locator(".fact", has_text="Created").locator("dd")
    expect(created).to_have_text("Dec. 3, 2026")  # Chromium asks for en-US

    page.goto(f"{live_server.url}/profile/")
    page.get_by_label("Write them as in").select_option(label="English (UK)")
    page.locator("#locale").get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your date and number format is saved.")).to_be_visible()
    page.screenshot(path="/tmp/locale_tmp/profile_locale.png", full_page=True)

    page.goto(detail)
    expect(created).to_have_text("3 Dec 2026")
