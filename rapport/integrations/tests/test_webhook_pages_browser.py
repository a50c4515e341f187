"""In Chromium: an admin adds a webhook, sees the secret once, and finds the delivery log
with the receiver's answer and a working Replay button."""

from __future__ import annotations

import pytest

from rapport.core import outbox
from rapport.customers.services import CustomerInput, EmailInput, customer_create
from rapport.identity.tests.factories import PASSWORD, UserFactory
from rapport.integrations import services
from rapport.integrations.models import WebhookDelivery, WebhookEndpoint
from rapport.integrations.tests.receiver import running_receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_admin_adds_a_webhook_and_replays_a_delivery(page, live_server):
    admin = UserFactory(is_superuser=True)
    _login(page, live_server, admin)
    page.click("text=Integrations")
    page.wait_for_selector("text=No webhooks yet")
    page.screenshot(path="/tmp/integrations_empty.png", full_page=True)

    with running_receiver() as receiver:
        page.click("text=Add webhook")
        page.fill("input[name=url]", receiver.url())
        page.fill("input[name=description]", "ERP sync")
        page.check("input[value='customer.created']")
        page.screenshot(path="/tmp/integrations_form.png", full_page=True)
        page.click("button:has-text('Add webhook')")
        secret = page.inner_text("#webhook-secret").strip()
        endpoint = WebhookEndpoint.objects.get()
        assert secret == endpoint.secret
        page.screenshot(path="/tmp/integrations_secret.png", full_page=True)
        page.click("text=I have stored it")
        assert secret not in page.content()

        customer_create(
            actor=admin,
            data=CustomerInput(first_name="Ada", emails=[EmailInput("ada@example.com")]),
        )
        outbox.dispatch_pending()
        services.send_due()
        page.reload()
        page.wait_for_selector("td:has-text('customer.created')")
        assert page.locator("span.badge:has-text('Delivered')").count() == 1
        page.screenshot(path="/tmp/integrations_detail.png", full_page=True)

        page.click("button:has-text('Replay')")
        page.wait_for_selector("text=Replay of customer.created queued")
        services.send_due()
        assert WebhookDelivery.objects.filter(replay_of__isnull=False).count() == 1
        assert len(receiver.requests) == 2

    page.goto(f"{live_server.url}/integrations/")
    page.wait_for_selector("text=ERP sync")
    page.screenshot(path="/tmp/integrations_list.png", full_page=True)
