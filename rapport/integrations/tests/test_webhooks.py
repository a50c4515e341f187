"""Outbound webhooks end to end: outbox event → delivery row → signed POST to a real
local HTTP server, retries with backoff, replay, SSRF refusals and secrets at rest."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.db import connection
from django.utils import timezone

from rapport.core import outbox
from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.customers.schemas import customer_payload
from rapport.customers.services import CustomerInput, EmailInput, customer_create
from rapport.identity.tests.factories import UserFactory
from rapport.integrations import outbound, services
from rapport.integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from rapport.integrations.tests.receiver import running_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(is_superuser=True)


@pytest.fixture
def receiver():
    with running_receiver() as r:
        yield r


def _endpoint(admin, url, event_types=("*",)):
    return services.endpoint_create(actor=admin, url=url, event_types=list(event_types))


def _customer(admin, n=1):
    return customer_create(
        actor=admin,
        data=CustomerInput(first_name="Ada", last_name=f"L{n}", emails=[EmailInput(f"a{n}@x.io")]),
    )


def _deliver_everything():
    outbox.dispatch_pending()
    services.send_due()


def test_a_customer_event_reaches_a_real_receiver_signed_with_the_secret(admin, receiver):
    endpoint, secret = _endpoint(admin, receiver.url(), ["customer.created"])
    customer = _customer(admin)
    _deliver_everything()

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    envelope = json.loads(request.body)
    assert envelope["type"] == "customer.created"
    assert envelope["data"] == customer_payload(customer)  # the full object as the API has it
    assert set(envelope) == {"type", "id", "occurred_at", "data"}
    event = OutboxEvent.objects.get(type="customer.created")
    assert envelope["id"] == str(event.event_id)

    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["rapport-event"] == "customer.created"
    timestamp = headers["rapport-timestamp"]
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    assert headers["rapport-signature"] == f"v1={expected}"
    wrong = hmac.new(b"not-the-secret", f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert headers["rapport-signature"] != f"v1={wrong.hexdigest()}"

    delivery = WebhookDelivery.objects.get()
    assert headers["rapport-delivery"] == str(delivery.delivery_id)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.response_status_code == 200 and delivery.attempts == 1
    assert delivery.duration_ms is not None and '"ok"' in delivery.response_body
    assert endpoint.pk == delivery.endpoint_id


def test_only_subscribed_active_endpoints_get_deliveries(admin, receiver):
    _endpoint(admin, receiver.url("/a"), ["customer.updated"])
    inactive, _ = _endpoint(admin, receiver.url("/b"), ["*"])
    services.endpoint_update(actor=admin, endpoint=inactive, is_active=False)
    everything, _ = _endpoint(admin, receiver.url("/c"), ["*"])
    _customer(admin)
    _deliver_everything()
    assert [r.path for r in receiver.requests] == ["/c"]
    assert WebhookDelivery.objects.get().endpoint == everything


def test_deliveries_are_created_once_per_event_however_often_the_outbox_hands_it_over(
    admin, receiver
):
    _endpoint(admin, receiver.url())
    _customer(admin)
    event = OutboxEvent.objects.get(type="customer.created")
    assert "webhooks" in event.pending_consumers  # registered at startup
    for _ in range(3):  # at-least-once delivery from the outbox
        services.deliveries_for_event(event)
    outbox.dispatch_pending()
    assert WebhookDelivery.objects.filter(event_id=event.event_id).count() == 1
    services.send_due()
    services.send_due()
    assert len(receiver.requests) == 1


def test_a_failing_receiver_is_retried_with_backoff_and_succeeds_later(admin, receiver):
    receiver.answer = lambda path, n: (500, {}) if n <= 2 else (200, {})
    _endpoint(admin, receiver.url())
    _customer(admin)
    outbox.dispatch_pending()
    before = timezone.now()
    services.send_due()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.response_status_code == 500 and "500" in delivery.error
    first_wait = delivery.next_attempt_at - before
    assert dt.timedelta(seconds=55) < first_wait < dt.timedelta(seconds=65)

    assert services.send_due() == 0  # not due yet: nothing is sent early
    assert len(receiver.requests) == 1

    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    services.send_due()
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at - timezone.now() > dt.timedelta(minutes=4)  # backs off

    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    services.send_due()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 3
    assert len(receiver.requests) == 3
    # The same event each time: receivers deduplicate on the delivery/event id.
    assert len({json.loads(r.body)["id"] for r in receiver.requests}) == 1


def test_a_receiver_that_never_recovers_is_given_up_after_the_last_attempt(admin, receiver):
    receiver.answer = lambda path, n: (503, {})
    _endpoint(admin, receiver.url())
    _customer(admin)
    outbox.dispatch_pending()
    for _ in range(services.MAX_ATTEMPTS + 2):
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        services.send_due()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == services.MAX_ATTEMPTS == 8
    assert len(receiver.requests) == 8
    total = sum(services.BACKOFF, dt.timedelta())
    assert dt.timedelta(hours=20) < total < dt.timedelta(hours=26)


def test_replay_sends_the_same_payload_again_as_a_new_delivery(admin, receiver):
    _endpoint(admin, receiver.url())
    _customer(admin)
    _deliver_everything()
    original = WebhookDelivery.objects.get()
    replay = services.delivery_replay(actor=admin, delivery=original)
    services.send_due()
    replay.refresh_from_db()
    assert replay.status == DeliveryStatus.SUCCEEDED and replay.replay_of == original
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.body == second.body  # same event, same payload
    assert first.headers["Rapport-Delivery"] != second.headers["Rapport-Delivery"]


def test_sending_runs_as_a_task_after_commit(admin, receiver, immediate_tasks):
    _endpoint(admin, receiver.url())
    from rapport.core.tasks import dispatch_outbox

    _customer(admin)
    dispatch_outbox.call()  # the consumer enqueues the sender on commit
    from rapport.integrations.tasks import send_due_webhooks

    send_due_webhooks.call()
    assert len(receiver.requests) == 1


# --- SSRF ------------------------------------------------------------------------------

FORBIDDEN_HOSTS = [
    "127.0.0.1",
    "localhost",
    "0177.0.0.1",
    "2130706433",
    "0x7f.1",
    "0x7f000001",
    "127.1",
    "127.0.0.1.",
    "[::1]",
    "[::ffff:7f00:1]",
    "[::ffff:127.0.0.1]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]",
    "0.0.0.0",  # noqa: S104
    "0",
    "[::]",
    "169.254.169.254",
    "[fd00:ec2::254]",
    "100.100.100.200",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "[fe80::1]",
    "224.0.0.1",
    "240.0.0.1",
]


@pytest.mark.parametrize("host", FORBIDDEN_HOSTS)
def test_ssrf_spellings_are_refused_at_delivery(admin, receiver, settings, host):
    settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS = []
    # Created while allow-listed (as if DNS changed since): delivery must re-check.
    endpoint = WebhookEndpoint.objects.create(
        url=f"http://{host}:{receiver.port}/hook", event_types=["*"], secret="s"
    )
    _customer(admin)
    _deliver_everything()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.error.startswith("Refused"), delivery.error
    assert delivery.status == DeliveryStatus.PENDING and delivery.response_status_code is None
    assert receiver.requests == []


@pytest.mark.parametrize("host", FORBIDDEN_HOSTS)
def test_ssrf_spellings_are_refused_when_saving_a_literal_address(admin, settings, host):
    settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS = []
    if host == "localhost":
        pytest.skip("names are resolved at delivery, not when saving")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        _endpoint(admin, f"http://{host}/hook")


def test_a_redirect_to_a_private_address_is_refused(admin, receiver, settings):
    settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS = ["localhost"]
    receiver.answer = lambda path, n: (
        (307, {"Location": f"http://127.0.0.1:{receiver.port}/final"})
        if path == "/start"
        else (200, {})
    )
    _endpoint(admin, receiver.url("/start", host="localhost"))
    _customer(admin)
    _deliver_everything()
    delivery = WebhookDelivery.objects.get()
    assert delivery.error.startswith("Refused") and "127.0.0.1" in delivery.error
    assert [r.path for r in receiver.requests] == ["/start"]  # /final never reached


def test_an_allowed_redirect_is_followed_and_vetted_again(admin, receiver):
    receiver.answer = lambda path, n: (
        (308, {"Location": "/final"}) if path == "/start" else (200, {})
    )
    _endpoint(admin, receiver.url("/start"))
    _customer(admin)
    _deliver_everything()
    assert [r.path for r in receiver.requests] == ["/start", "/final"]
    assert WebhookDelivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_public_addresses_pass_the_check():
    import ipaddress

    for public in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:8.8.8.8"]:
        assert outbound.forbidden_reason(ipaddress.ip_address(public)) is None


def test_the_connection_goes_to_the_vetted_address(monkeypatch, receiver):
    """No second DNS lookup: a name that re-resolves elsewhere still hits the vetted IP."""
    import socket

    real = socket.getaddrinfo
    answers = iter(["127.0.0.1", "10.9.9.9"])

    def rebinding(host, *args, **kwargs):
        if host == "rebind.test":
            ip = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, args[0] if args else 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(outbound, "is_allow_listed", lambda host: True)
    response = outbound.post(f"http://rebind.test:{receiver.port}/x", b"{}", {})
    assert response.status == 200
    assert receiver.requests[0].headers["Host"] == f"rebind.test:{receiver.port}"


# --- Secrets ---------------------------------------------------------------------------


def test_secrets_are_encrypted_at_rest_and_kept_out_of_the_audit_log(admin):
    endpoint, secret = _endpoint(admin, "https://hooks.example.com/in")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret FROM integrations_webhookendpoint WHERE id = %s", [endpoint.pk]
        )
        raw = cursor.fetchone()[0]
    assert secret.startswith("whsec_") and raw != secret and secret not in raw
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == secret
    rotated = services.endpoint_rotate_secret(actor=admin, endpoint=endpoint)
    assert rotated != secret and WebhookEndpoint.objects.get(pk=endpoint.pk).secret == rotated
    for row in AuditLogEntry.objects.filter(object_type="integrations.webhookendpoint"):
        dumped = json.dumps(row.changes)
        assert secret not in dumped and rotated not in dumped


def test_unknown_event_types_and_non_admins_are_refused(admin):
    from django.core.exceptions import PermissionDenied, ValidationError

    with pytest.raises(ValidationError):
        _endpoint(admin, "https://hooks.example.com/in", ["customer.exploded"])
    with pytest.raises(PermissionDenied):
        services.endpoint_create(
            actor=UserFactory(), url="https://hooks.example.com/in", event_types=["*"]
        )
    assert WebhookEndpoint.objects.count() == 0
