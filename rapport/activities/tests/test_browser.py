"""In a real Chromium: completing an activity on My day with one click (htmx swaps the
item and the overdue badge follows on the next page), and the error shown in place when
the activity changed meanwhile."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from rapport.activities.models import Activity
from rapport.activities.services import ActivityInput, activity_update
from rapport.activities.tests.conftest import activity_user, task
from rapport.commerce.tests.factories import CustomerFactory
from rapport.core.permissions import Scope

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("RAPPORT_SHOTS", "")


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


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_complete_an_activity_on_my_day(page, live_server) -> None:
    user = activity_user(Scope.OWN, full_name="Rita Rep")
    customer = CustomerFactory(owner=user, display_name="Margarethe Lindqvist")
    now = timezone.now()
    late = task(
        user, "Send the renewal offer", customer_id=customer.pk, due_at=now - dt.timedelta(hours=3)
    )
    task(
        user,
        "Call about the delivery",
        kind="call",
        customer_id=customer.pk,
        due_at=now - dt.timedelta(days=1),
    )
    changed = task(user, "Prepare the demo", due_at=now + dt.timedelta(days=2))
    start = (now + dt.timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    task(
        user,
        "Quarterly review",
        kind="meeting",
        customer_id=customer.pk,
        starts_at=start,
        location="Office",
    )
    _login(page, live_server, user)

    page.goto(f"{live_server.url}/activities/")
    badge = page.locator('a[href="/activities/"] .nav-badge')
    expect(badge).to_have_text("2 overdue")
    _shot(page, "my_day")
    item = page.locator(f"#activity-{late.pk}")
    item.get_by_role("button", name="Mark “Send the renewal offer” done").click()
    expect(page.locator(f"#activity-{late.pk} [role=status]")).to_have_text("Done ✓")
    assert Activity.objects.get(pk=late.pk).status == "done"

    # Someone changes the demo task meanwhile: the click says why it did not go through.
    activity_update(actor=user, activity=changed, data=ActivityInput(subject="Prepare the demo!"))
    page.locator(f"#activity-{changed.pk} button").click()
    expect(page.locator(f"#activity-{changed.pk} [role=alert]")).to_be_visible()
    assert Activity.objects.get(pk=changed.pk).status == "open"
    _shot(page, "my_day_after")

    page.reload()
    expect(badge).to_have_text("1 overdue")

    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    panel = page.locator('[data-panel="activities"]')
    expect(panel).to_contain_text("Call about the delivery")
    _shot(page, "customer_panel")
    if SHOTS:
        for path, name in [
            ("/activities/list/", "list"),
            (f"/activities/{late.pk}/", "detail"),
            (f"/activities/{late.pk}/edit/", "form"),
            ("/activities/notifications/", "notifications"),
        ]:
            page.goto(f"{live_server.url}{path}")
            _shot(page, name)
