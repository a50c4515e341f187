"""In a real Chromium: the churn model page with its calibration plot and features, and
the churn card with reasons on a customer's 360° page."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from rapport.analytics import churn_services
from rapport.analytics.models import ChurnScore
from rapport.analytics.tests import churn_world
from rapport.identity.tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("CHURN_SCREENSHOTS", "")


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


def test_model_page_and_customer_card(page, live_server) -> None:
    admin = UserFactory(is_superuser=True, full_name="Ada Admin")
    customers = churn_world.build(now=timezone.now())
    run = churn_services.churn_model_train(actor=admin)
    churn_services.churn_scores_refresh(actor=admin, run=run)
    _login(page, live_server, admin)

    page.goto(f"{live_server.url}/analytics/churn/")
    expect(page.get_by_role("heading", name="Churn model", exact=True)).to_be_visible()
    expect(page.locator("[data-metric=roc_auc]")).to_have_text(f"{run.metrics['roc_auc']:.3f}")
    expect(page.locator("svg.churn-plot circle.point").first).to_be_visible()
    expect(page.get_by_role("cell", name="Days since last order", exact=True)).to_be_visible()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/churn_model.png", full_page=True)

    risky = ChurnScore.objects.filter(customer__in=customers).order_by("-probability").first()
    page.goto(f"{live_server.url}/customers/{risky.customer_id}/")
    card = page.locator("[data-panel=churn-risk]")
    expect(card).to_contain_text("chance of no order in the next 180 days")
    expect(card.locator(".churn-reasons li").first).to_be_visible()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/churn_card.png", full_page=True)

    page.get_by_role("link", name="How this is computed").click()
    expect(page).to_have_url(f"{live_server.url}/analytics/churn/")
