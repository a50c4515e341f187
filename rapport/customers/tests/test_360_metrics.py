"""The 360° page's value cards come from the customer-metrics registry: no card when no
app registered one or it has nothing to show, and no "coming later" dead ends."""

from __future__ import annotations

import pytest
from django.urls import reverse

from rapport.core import registry
from rapport.customers.tests.factories import person

pytestmark = pytest.mark.django_db


def test_no_value_cards_or_placeholders_without_an_app_that_fills_them(client, admin):
    ada = person(admin)
    client.force_login(admin)
    html = client.get(reverse("customers:detail", args=[ada.pk])).content.decode()
    assert "value-metrics" not in html
    assert "Lifetime value" not in html and "Computed by Analytics" not in html
    assert "once Sales is set up" not in html and "once Service is set up" not in html


def test_a_registered_metric_shows_a_card_only_when_it_has_a_value(client, admin):
    ada, bob = person(admin, "Ada", "Lovelace"), person(admin, "Bob", "Builder")
    registry.add_customer_metric(
        registry.CustomerMetric(
            key="test-clv",
            label="Lifetime value",
            value=lambda actor, customer: (
                registry.MetricValue("1,240 EUR", "BG/NBD, fitted nightly")
                if customer.pk == ada.pk
                else None
            ),
        )
    )
    try:
        client.force_login(admin)
        html = client.get(reverse("customers:detail", args=[ada.pk])).content.decode()
        assert 'id="metric-test-clv"' in html and "1,240 EUR" in html
        assert "BG/NBD, fitted nightly" in html
        other = client.get(reverse("customers:detail", args=[bob.pk])).content.decode()
        assert "metric-test-clv" not in other and "value-metrics" not in other
    finally:
        registry.remove_customer_metric("test-clv")


def test_the_profile_shows_a_language_name_and_a_readable_source(client, admin):
    ada = person(admin, language="en", source="demo-duplicate")
    client.force_login(admin)
    html = client.get(reverse("customers:detail", args=[ada.pk])).content.decode()
    language = html[html.index('id="fact-language"') :][:400]
    source = html[html.index('id="fact-source"') :][:400]
    assert "English" in language and ">en<" not in language
    assert "Demo duplicate" in source and "demo-duplicate" not in source
