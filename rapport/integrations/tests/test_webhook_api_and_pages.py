"""Webhook management through the API and the admin pages: admins only, secret once."""

from __future__ import annotations

import pytest
from django.test import Client

from rapport.customers.tests.api_support import ApiClient
from rapport.identity.tests.factories import UserFactory, api_key_for, user_with
from rapport.integrations import services
from rapport.integrations.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db
SCOPES = ["integrations.webhookendpoint:read", "integrations.webhookendpoint:write"]


@pytest.fixture
def admin():
    return UserFactory(is_superuser=True)


def test_api_create_returns_the_secret_once_and_reads_never_do(admin):
    api = ApiClient(api_key_for(admin, SCOPES)[1])
    response = api.post(
        "/webhooks",
        {"url": "https://hooks.example.com/in", "event_types": ["customer.created"]},
    )
    assert response.status_code == 201, response.content
    secret = response.json()["secret"]
    assert secret.startswith("whsec_")
    endpoint_id = response.json()["id"]
    for path in ["/webhooks", f"/webhooks/{endpoint_id}"]:
        read = api.get(path)
        assert read.status_code == 200
        assert secret not in read.content.decode()
        rows = read.json() if isinstance(read.json(), list) else [read.json()]
        assert all("secret" not in row for row in rows)
    rotated = api.post(f"/webhooks/{endpoint_id}/rotate-secret", {})
    assert rotated.status_code == 200 and rotated.json()["secret"] != secret
    patched = api.patch(f"/webhooks/{endpoint_id}", {"event_types": ["*"], "is_active": False})
    assert patched.json()["event_types"] == ["*"] and patched.json()["is_active"] is False
    assert api.patch(f"/webhooks/{endpoint_id}", {"secret": "mine"}).status_code == 422
    assert api.get("/webhook-event-types").status_code == 200
    assert "customer.created" in {e["name"] for e in api.get("/webhook-event-types").json()}


def test_api_refuses_private_targets_and_unknown_events(admin, settings):
    settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS = []
    api = ApiClient(api_key_for(admin, SCOPES)[1])
    response = api.post("/webhooks", {"url": "http://0x7f.1/x", "event_types": ["*"]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "url"
    response = api.post("/webhooks", {"url": "https://ok.example.com", "event_types": ["nope"]})
    assert response.status_code == 422
    assert WebhookEndpoint.objects.count() == 0


def test_api_is_for_admins_with_the_scope(admin):
    services.endpoint_create(actor=admin, url="https://hooks.example.com/in", event_types=["*"])
    manager = user_with("all", object_types=("customers.customer", "integrations.webhookendpoint"))
    assert ApiClient(api_key_for(manager, SCOPES)[1]).get("/webhooks").status_code == 403
    no_scope = ApiClient(api_key_for(admin, ["customers.customer:read"])[1])
    assert (
        no_scope.post(
            "/webhooks", {"url": "https://a.example.com", "event_types": ["*"]}
        ).status_code
        == 403
    )
    read_only = ApiClient(api_key_for(admin, ["integrations.webhookendpoint:read"])[1])
    assert read_only.get("/webhooks").status_code == 200
    assert (
        read_only.post(
            "/webhooks", {"url": "https://a.example.com", "event_types": ["*"]}
        ).status_code
        == 403
    )
    assert WebhookEndpoint.objects.count() == 1


def test_delivery_log_and_replay_over_the_api(admin, django_assert_max_num_queries):
    endpoint, _ = services.endpoint_create(
        actor=admin, url="https://hooks.example.com/in", event_types=["*"]
    )
    import uuid

    for n in range(30):
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_id=uuid.uuid4(),
            event_type="customer.created",
            payload={"n": n},
            status="failed",
            attempts=8,
        )
    api = ApiClient(api_key_for(admin, SCOPES)[1])
    api.get("/webhooks")
    with django_assert_max_num_queries(8):
        page = api.get(f"/webhooks/{endpoint.pk}/deliveries?limit=25").json()
    assert len(page["items"]) == 25 and page["next_cursor"]
    rest = api.get(f"/webhooks/{endpoint.pk}/deliveries?cursor={page['next_cursor']}").json()
    assert len(rest["items"]) == 5 and rest["next_cursor"] is None
    target = page["items"][0]["id"]
    replay = api.post(f"/webhooks/{endpoint.pk}/deliveries/{target}/replay", {})
    assert replay.status_code == 202 and replay.json()["replay_of_id"] == target
    assert replay.json()["status"] == "pending"


# --- Pages -----------------------------------------------------------------------------


def _logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_pages_are_for_admins_only():
    client = _logged_in(user_with("all"))
    assert client.get("/integrations/").status_code == 403
    assert client.get("/integrations/webhooks/new/").status_code == 403
    assert Client().get("/integrations/").status_code == 302  # to the login page


def test_create_shows_the_secret_once_then_never_again(admin, django_assert_max_num_queries):
    client = _logged_in(admin)
    empty = client.get("/integrations/")
    assert b"No webhooks yet" in empty.content
    response = client.post(
        "/integrations/webhooks/new/",
        {"url": "https://hooks.example.com/in", "description": "ERP", "event_types": ["*"]},
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.encode() in response.content
    assert b"will not be shown again" in response.content
    detail = client.get(f"/integrations/webhooks/{endpoint.pk}/")
    assert detail.status_code == 200 and endpoint.secret.encode() not in detail.content
    listing = client.get("/integrations/")
    assert (
        b"hooks.example.com" in listing.content and endpoint.secret.encode() not in listing.content
    )


def test_edit_deactivate_rotate_and_replay_from_the_pages(admin):
    endpoint, secret = services.endpoint_create(
        actor=admin, url="https://hooks.example.com/in", event_types=["*"]
    )
    import uuid

    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=uuid.uuid4(),
        event_type="customer.updated",
        payload={"type": "customer.updated"},
        status="failed",
        attempts=8,
        response_status_code=500,
    )
    client = _logged_in(admin)
    page = client.get(f"/integrations/webhooks/{endpoint.pk}/")
    assert b"customer.updated" in page.content and b"Replay" in page.content
    saved = client.post(
        f"/integrations/webhooks/{endpoint.pk}/",
        {"url": "https://hooks.example.com/v2", "event_types": ["customer.created"]},
    )
    assert saved.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url.endswith("/v2") and endpoint.event_types == ["customer.created"]
    bad = client.post(
        f"/integrations/webhooks/{endpoint.pk}/",
        {"url": "https://x.example.com", "event_types": []},
    )
    assert bad.status_code == 200 and b"errorlist" in bad.content
    client.post(f"/integrations/webhooks/{endpoint.pk}/toggle/")
    endpoint.refresh_from_db()
    assert endpoint.is_active is False
    rotated = client.post(f"/integrations/webhooks/{endpoint.pk}/rotate/")
    endpoint.refresh_from_db()
    assert endpoint.secret != secret and endpoint.secret.encode() in rotated.content
    client.post(f"/integrations/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/replay/")
    assert WebhookDelivery.objects.filter(replay_of=delivery).count() == 1
    shown = client.get(f"/integrations/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/")
    assert shown.status_code == 200 and b"customer.updated" in shown.content
    # GET never changes anything.
    assert client.get(f"/integrations/webhooks/{endpoint.pk}/rotate/").status_code == 405


def test_csrf_is_enforced_on_the_pages(admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(
        "/integrations/webhooks/new/",
        {"url": "https://hooks.example.com/in", "event_types": ["*"]},
    )
    assert response.status_code == 403
    assert WebhookEndpoint.objects.count() == 0


def test_nav_shows_integrations_to_admins_only(admin):
    assert b'href="/integrations/"' in _logged_in(admin).get("/jobs/").content
    assert b'href="/integrations/"' not in _logged_in(user_with("all")).get("/jobs/").content
