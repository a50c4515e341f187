"""The demo loader: a disabled mailbox, queues, an SLA policy, tickets in every status."""

from __future__ import annotations

import pytest

from rapport.commerce.tests.factories import CustomerFactory
from rapport.identity.tests.factories import UserFactory
from rapport.service import demo
from rapport.service.models import Mailbox, Message, SLAPolicy, Ticket

pytestmark = pytest.mark.django_db


def test_demo_loads_once() -> None:
    UserFactory(is_superuser=True)
    for i in range(12):
        CustomerFactory(primary_email=f"demo{i}@example.com", display_name=f"Demo {i}")
    assert "12 tickets" in demo.load()
    assert Mailbox.objects.get().enabled is False
    assert SLAPolicy.objects.count() == 2
    categories = set(Ticket.objects.values_list("status_category", flat=True))
    assert {"open", "waiting_on_customer", "on_hold", "solved", "closed"} <= categories
    assert Message.objects.filter(direction="out").exists()
    assert Ticket.objects.filter(messages__direction="in").distinct().count() == 12
    assert demo.load() == "Service demo data already loaded."
