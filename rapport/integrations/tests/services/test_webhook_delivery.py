"""Webhook endpoints and sending, called directly: secrets (`new_secret`), removing an
endpoint (`endpoint_delete`), starting the sender after commit (`enqueue_sending`) and one
signed POST with its retry schedule (`attempt`)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from rapport.core.models import AuditLogEntry
from rapport.identity.tests.factories import RoleFactory, UserFactory
from rapport.integrations import services
from rapport.integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from rapport.integrations.tests.receiver import Receiver, running_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(is_superuser=True)


@pytest.fixture
def receiver():
    with running_receiver() as r:
        yield r


def _delivery(endpoint: WebhookEndpoint) -> WebhookDelivery:
    event_id = uuid.uuid4()
    return WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=event_id,
        event_type="customer.created",
        payload={"type": "customer.created", "id": str(event_id), "data": {"id": 7}},
    )


def test_new_secret_is_labelled_and_never_repeats() -> None:
    secrets = {services.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith(services.SECRET_PREFIX) and len(s) >= 40 for s in secrets)


def test_endpoint_delete_records_the_endpoint_without_its_secret(admin, receiver) -> None:
    endpoint, secret = services.endpoint_create(
        actor=admin, url=receiver.url(), event_types=["customer.created"]
    )
    delivery = _delivery(endpoint)
    pk = endpoint.pk
    services.endpoint_delete(actor=admin, endpoint=endpoint)
    assert not WebhookEndpoint.objects.filter(pk=pk).exists()
    assert not WebhookDelivery.objects.filter(pk=delivery.pk).exists()
    row = AuditLogEntry.objects.get(object_id=str(pk), action="delete")
    assert row.changes["url"] == [receiver.url(), None]
    assert secret not in json.dumps(row.changes)


def test_endpoint_delete_is_for_administrators(admin, receiver) -> None:
    endpoint, _ = services.endpoint_create(actor=admin, url=receiver.url(), event_types=["*"])
    with pytest.raises(PermissionDenied):
        services.endpoint_delete(actor=UserFactory(role=RoleFactory()), endpoint=endpoint)
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_enqueue_sending_starts_the_sender_only_after_commit(
    settings, django_capture_on_commit_callbacks
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.enqueue_sending()
        assert not DBTaskResult.objects.exists()
    assert len(callbacks) == 1
    callbacks[0]()
    assert DBTaskResult.objects.get().task_path == "rapport.integrations.tasks.send_due_webhooks"


def test_enqueue_sending_leaves_it_to_the_sweep_when_the_queue_is_down(
    monkeypatch, caplog, django_capture_on_commit_callbacks
) -> None:
    class Down:
        def enqueue(self) -> None:
            raise ConnectionError("queue unreachable")

    monkeypatch.setattr("rapport.integrations.tasks.send_due_webhooks", Down())
    with django_capture_on_commit_callbacks(execute=True):
        services.enqueue_sending()  # the committed change must not fail for it
    assert "the sweep will send" in caplog.text


def test_attempt_posts_the_signed_payload_and_records_success(admin, receiver: Receiver) -> None:
    endpoint, secret = services.endpoint_create(
        actor=admin, url=receiver.url(), event_types=["customer.created"]
    )
    delivery = services.attempt(_delivery(endpoint))
    assert (delivery.status, delivery.attempts, delivery.response_status_code) == (
        DeliveryStatus.SUCCEEDED,
        1,
        200,
    )
    assert delivery.delivered_at is not None and delivery.error == ""
    [request] = receiver.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert json.loads(request.body) == delivery.payload
    assert headers["rapport-delivery"] == str(delivery.delivery_id)
    assert headers["rapport-signature"] == services.sign(
        secret, int(headers["rapport-timestamp"]), request.body
    )
    stored = WebhookDelivery.objects.get(pk=delivery.pk)
    assert stored.status == DeliveryStatus.SUCCEEDED


def test_attempt_schedules_retries_with_backoff_then_gives_up(admin, receiver: Receiver) -> None:
    receiver.answer = lambda path, n: (503, {})
    endpoint, _ = services.endpoint_create(actor=admin, url=receiver.url(), event_types=["*"])
    delivery = _delivery(endpoint)
    before = timezone.now()
    delivery = services.attempt(delivery)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert delivery.error == "The receiver answered 503."
    assert delivery.next_attempt_at >= before + dt.timedelta(minutes=1)
    assert delivery.next_attempt_at < before + dt.timedelta(minutes=2)
    delivery = services.attempt(delivery)
    assert delivery.next_attempt_at >= before + dt.timedelta(minutes=5)
    while delivery.attempts < services.MAX_ATTEMPTS:
        delivery = services.attempt(delivery)
    assert delivery.status == DeliveryStatus.FAILED
    assert len(receiver.requests) == services.MAX_ATTEMPTS


def test_attempt_to_a_deactivated_endpoint_fails_without_sending(admin, receiver) -> None:
    endpoint, _ = services.endpoint_create(actor=admin, url=receiver.url(), event_types=["*"])
    delivery = _delivery(endpoint)
    services.endpoint_update(actor=admin, endpoint=endpoint, is_active=False)
    delivery.endpoint.refresh_from_db()
    delivery = services.attempt(delivery)
    assert (delivery.status, delivery.error) == (
        DeliveryStatus.FAILED,
        "The endpoint was deactivated.",
    )
    assert receiver.requests == []
