"""Service settings: queues, statuses, calendars, SLA policies, mailboxes (encrypted
passwords, hashed webhook token), signatures; only for those granted the settings."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from rapport.core.models import AuditLogEntry
from rapport.core.permissions import Scope
from rapport.identity.tests.factories import UserFactory
from rapport.service import services
from rapport.service.models import Mailbox, TicketStatus
from rapport.service.services import MailboxInput, SLAPolicyInput
from rapport.service.tests.factories import NINE_TO_FIVE, agent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> Any:
    return UserFactory(is_superuser=True)


def test_settings_need_the_grant() -> None:
    with pytest.raises(PermissionDenied):
        services.queue_save(actor=agent(Scope.ALL), name="Billing")


def test_queue_and_status(admin: Any) -> None:
    queue = services.queue_save(actor=admin, name=" Billing ")
    assert queue.name == "Billing"
    with pytest.raises(ValidationError):
        services.queue_save(actor=admin, name="Billing")
    services.statuses_seed()
    status = services.status_save(
        actor=admin, name="Awaiting parts", category="on_hold", position=25, is_default=True
    )
    assert TicketStatus.objects.filter(category="on_hold", is_default=True).get() == status
    with pytest.raises(ValidationError):
        services.status_save(actor=admin, name="X", category="someday")


def test_calendar_is_validated(admin: Any) -> None:
    cal = services.calendar_save(
        actor=admin,
        name="EU",
        time_zone="Europe/Berlin",
        weekly_hours=NINE_TO_FIVE,
        holidays=["2026-12-25", "2026-12-25"],
    )
    assert cal.holidays == ["2026-12-25"]
    for bad in (
        {"time_zone": "Mars/Olympus"},
        {"weekly_hours": {"0": [["17:00", "09:00"]]}},
        {"weekly_hours": {}},
        {"holidays": ["25/12/2026"]},
    ):
        kwargs = {"name": "Bad", "time_zone": "UTC", "weekly_hours": NINE_TO_FIVE, "holidays": []}
        with pytest.raises(ValidationError):
            services.calendar_save(actor=admin, **{**kwargs, **bad})


def test_sla_policy(admin: Any) -> None:
    cal = services.calendar_save(
        actor=admin, name="UTC", time_zone="UTC", weekly_hours=NINE_TO_FIVE, holidays=[]
    )
    policy = services.sla_policy_save(
        actor=admin,
        data=SLAPolicyInput(
            name="Gold",
            calendar_id=cal.pk,
            priority="high",
            customer_tag="Gold",
            first_response_minutes=30,
        ),
    )
    assert policy.customer_tag == "gold"
    with pytest.raises(ValidationError):
        services.sla_policy_save(actor=admin, data=SLAPolicyInput(name="None", calendar_id=cal.pk))


def test_mailbox_password_encrypted_and_kept(admin: Any) -> None:
    data = MailboxInput(
        name="Support",
        email_address="Support@Shop.Example",
        imap_host="imap.x",
        imap_user="support",
        imap_password="hunter2",
        folders=["INBOX", "Orders"],
    )
    box = services.mailbox_save(actor=admin, data=data)
    assert box.email_address == "support@shop.example"
    with connection.cursor() as cursor:
        cursor.execute("SELECT imap_password FROM service_mailbox WHERE id = %s", [box.pk])
        assert "hunter2" not in cursor.fetchone()[0]
    data.imap_password = None
    data.name = "Support desk"
    box = services.mailbox_save(actor=admin, mailbox=box, data=data)
    assert Mailbox.objects.get(pk=box.pk).imap_password == "hunter2"
    entries = AuditLogEntry.objects.filter(object_type="service.mailbox")
    assert entries.count() == 2 and "hunter2" not in str(list(entries.values("changes")))
    with pytest.raises(ValidationError) as err:
        services.mailbox_save(
            actor=admin, data=MailboxInput(name="x", email_address="nope", imap_host="h")
        )
    assert set(err.value.message_dict) == {"email_address", "imap_user"}


def test_webhook_token_is_stored_hashed(admin: Any) -> None:
    box = services.mailbox_save(
        actor=admin, data=MailboxInput(name="S", email_address="s@x.example")
    )
    token = services.mailbox_rotate_webhook_token(actor=admin, mailbox=box)
    box.refresh_from_db()
    assert box.webhook_token_hash == services.webhook_token_hash(token) != token


def test_agent_signature(admin: Any) -> None:
    profile = services.agent_signature_save(actor=admin, signature="  Jo  ")
    assert profile.signature == "Jo"
