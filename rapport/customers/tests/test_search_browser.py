"""The search page in a browser: typos, the count, and "See all" into the list with the
same order and every match."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from rapport.customers.tests.test_browser import login
from rapport.customers.tests.test_search_ranking import _bulk_people
from rapport.identity.tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_search_page_counts_and_sees_all_in_the_list(page, live_server):
    admin = UserFactory(is_superuser=True, is_staff=True)
    firsts = ["Anna", "Jane", "June", "Mary", "Peter", "Paul", "Ruth", "Tom"]
    people = [(f, "Smith") for f in firsts for _ in range(4)] + [("John", "Smith")]
    _bulk_people(admin, [*people, ("Grace", "Hopper")])
    login(page, live_server, admin)

    page.goto(live_server.url + reverse("core:search") + "?q=jonh+smth")
    rows = page.locator("#content table tbody tr")
    expect(rows.first).to_contain_text("John Smith")
    expect(page.locator("[data-results=customers]")).to_contain_text("customers match")

    page.goto(live_server.url + reverse("core:search") + "?q=smith")
    summary = page.locator("[data-results=customers]")
    expect(summary).to_contain_text(f"{len(people)} customers match")
    expect(rows).to_have_count(25)
    if os.environ.get("RAPPORT_SCREENSHOTS"):
        page.screenshot(path=os.environ["RAPPORT_SCREENSHOTS"] + "/search_page.png", full_page=True)
    summary.get_by_role("link", name="See all in the list").click()
    page.wait_for_url("**/customers/?q=smith")
    expect(page.locator(".page-header p")).to_contain_text(f"{len(people)} customers match")
    expect(page.locator("#content table tbody tr")).to_have_count(len(people))
    if os.environ.get("RAPPORT_SCREENSHOTS"):
        page.screenshot(path=os.environ["RAPPORT_SCREENSHOTS"] + "/list_q.png", full_page=True)
