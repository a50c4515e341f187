"""The demo loader: activities across users and customers, some overdue, some today,
logged calls with outcomes, all on the timeline; loading twice adds nothing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from rapport.activities import demo, selectors
from rapport.activities.models import Activity
from rapport.commerce.tests.factories import CustomerFactory
from rapport.customers.models import Interaction
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_demo_activities_and_idempotence() -> None:
    assert "no users or customers" in demo.load()
    users = [UserFactory(is_superuser=True), UserFactory(is_superuser=True)]
    CustomerFactory.create_batch(20)
    assert "for 2 users" in demo.load()
    total = Activity.objects.count()
    assert total == 2 * (3 + 3 + 10 + 6)
    now = timezone.now()
    for user in users:
        mine = Activity.objects.filter(owner=user)
        assert mine.filter(status="open", due_at__lt=now).count() == 3
        assert mine.filter(kind="call", status="done").exclude(call_outcome="").count() == 6
        day = selectors.my_day(actor=user)
        assert len(day.overdue.items) == 3 and day.upcoming.items
    assert Interaction.objects.filter(source_type="activities.activity").count() == total
    assert demo.load() == "Activities demo data already loaded."
    assert Activity.objects.count() == total
