"""In Chromium: after an admin erases a person, the webhook delivery log no longer shows
their name, e-mail or job title, and replaying the old delivery does not resend them."""

from __future__ import annotations

import pytest

from rapport.core import outbox
from rapport.customers.services import CustomerInput, EmailInput, customer_create
from rapport.identity.tests.factories import PASSWORD, UserFactory
from rapport.integrations import services
from rapport.integrations.models import WebhookDelivery
from rapport.integrations.tests.receiver import running_receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PERSONAL = ("Quokka", "Marsupial", "quokka@rottnest.example", "Island keeper")


def test_the_delivery_log_forgets_an_erased_person_and_a_replay_sends_nothing_of_them(
    page, live_server
):
    admin = UserFactory(is_superuser=True)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    with running_receiver() as receiver:
        endpoint, _ = services.endpoint_create(
            actor=admin, url=receiver.url(), event_types=["customer.created"]
        )
        customer = customer_create(
            actor=admin,
            data=CustomerInput(
                first_name=PERSONAL[0],
                last_name=PERSONAL[1],
                job_title=PERSONAL[3],
                emails=[EmailInput(PERSONAL[2])],
            ),
        )
        outbox.dispatch_pending()
        services.send_due()
        delivery = WebhookDelivery.objects.get()
        delivery_url = (
            f"{live_server.url}/integrations/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/"
        )
        page.goto(delivery_url)
        page.wait_for_selector("h2:has-text('Payload')")
        shown = page.inner_text("main")
        assert all(value in shown for value in PERSONAL)  # the check below can fail

        page.goto(f"{live_server.url}/customers/{customer.pk}/gdpr/erase/")
        page.fill("input[name=confirm]", "ERASE")
        page.click("button:has-text('Erase personal data')")
        page.wait_for_selector("text=The person's personal data was erased.")

        page.goto(delivery_url)
        page.wait_for_selector("h2:has-text('Payload')")
        shown = page.inner_text("main")
        assert [value for value in PERSONAL if value in shown] == []
        assert '"erased": true' in shown
        page.screenshot(path="/tmp/gdpr_delivery_after_erasure.png", full_page=True)

        page.click("button:has-text('Replay')")
        page.wait_for_selector("text=Replay of customer.created queued")
        services.send_due()
        assert len(receiver.requests) == 2
        assert [v for v in PERSONAL if v.encode() in receiver.requests[-1].body] == []
