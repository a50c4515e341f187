"""Counts read as English: "1 customer matches", "1 hour", "1 row", never "1 rows"."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from rapport.core.registry import SearchResults
from rapport.customers.models import Customer
from rapport.customers.tests.factories import person
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("total", "summary"),
    [
        ("1", "customer matches"),
        ("0", "customers match"),
        ("2", "customers match"),
        ("more than 10,000", "customers match"),
    ],
)
def test_the_search_summary_agrees_with_its_count(total, summary):
    part = SearchResults(label="customers", label_one="customer", hits=[], total=total)
    assert part.summary == summary


def test_one_search_match_reads_in_the_singular(client):
    admin = UserFactory(is_superuser=True)
    person(admin, "Ada", "Quuxbridge")
    client.force_login(admin)
    html = client.get(reverse("core:search"), {"q": "quuxbridge"}).content.decode()
    text = " ".join(html.split())
    assert "<strong>1</strong> customer matches" in text
    assert "1</strong> customers match" not in text


@pytest.mark.parametrize(("timeout", "shown"), [(3600, "for 1 hour."), (7200, "for 2 hours.")])
def test_the_reset_page_says_hour_or_hours(client, settings, timeout, shown):
    settings.PASSWORD_RESET_TIMEOUT = timeout
    html = client.get(reverse("identity:password_reset_sent")).content.decode()
    assert shown in html


def test_rescore_counts_one_record_in_the_singular(capsys):
    admin = UserFactory(is_superuser=True)
    person(admin, "Ada", "Lovelace")
    assert Customer.objects.count() == 1
    call_command("rescore")
    assert capsys.readouterr().out.strip().startswith("1 record scored, ")
