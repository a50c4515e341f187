"""Dates and numbers in the user's locale: the profile choice, else the browser's
Accept-Language, else LANGUAGE_CODE; on the audit log and the 360 page, at no query cost."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from rapport.core import audit
from rapport.core.models import AuditAction, AuditLogEntry
from rapport.core.widgets import DateInput
from rapport.customers.models import Customer
from rapport.identity.tests.conftest import login_as
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# 3 December 2026 in Django's shipped DATE_FORMAT of each locale.
US = "Dec. 3, 2026"
UK = "3 Dec 2026"
DE = "3. Dezember 2026"
WHEN = dt.datetime(2026, 12, 3, 10, 30, tzinfo=dt.UTC)


@pytest.fixture
def customer():
    owner = UserFactory(is_superuser=True)
    customer = Customer.objects.create(display_name="Ann Lee", owner=owner)
    Customer.objects.filter(pk=customer.pk).update(created_at=WHEN)
    # The audit log is append-only: a dated value in the changes carries the date.
    changes = {"lifecycle_changed_at": [None, WHEN.isoformat()]}
    audit.record(actor=owner, action=AuditAction.UPDATE, obj=customer, changes=changes)
    return Customer.objects.get(pk=customer.pk)


def _pages(client, customer, **headers):
    audit_log = client.get(reverse("core:audit_log"), headers=headers)
    detail = client.get(customer.get_absolute_url(), headers=headers)
    assert audit_log.status_code == detail.status_code == 200
    return audit_log.content.decode(), detail.content.decode()


@pytest.mark.parametrize(("locale", "shown", "not_shown"), [("en-gb", UK, US), ("en-us", US, UK)])
def test_the_users_locale_formats_dates_on_the_audit_log_and_360_page(
    client, customer, locale, shown, not_shown
):
    user = UserFactory(is_superuser=True, locale=locale)
    # The user's own choice wins over what the browser asks for.
    for html in _pages(login_as(client, user), customer, accept_language="de-DE,de;q=0.9"):
        assert shown in html
        assert not_shown not in html and DE not in html


@pytest.mark.parametrize(
    ("accept_language", "shown"),
    [("en-GB,en;q=0.8", UK), ("en-US,en;q=0.8", US), ("de-DE,de;q=0.9", DE), ("", US)],
)
def test_browser_default_follows_accept_language(client, customer, accept_language, shown):
    user = UserFactory(is_superuser=True, locale="")
    headers = {"accept_language": accept_language} if accept_language else {}
    for html in _pages(login_as(client, user), customer, **headers):
        assert shown in html


def test_an_unsupported_browser_language_falls_back_to_the_project_default(client, customer):
    user = UserFactory(is_superuser=True)
    for html in _pages(login_as(client, user), customer, accept_language="xx-YY"):
        assert US in html


def test_the_locale_costs_no_query(client, customer):
    plain = UserFactory(is_superuser=True)
    chosen = UserFactory(is_superuser=True, locale="en-gb")
    counts = []
    for user in (plain, chosen):
        login_as(client, user).get(customer.get_absolute_url())  # warm caches alike
        with CaptureQueriesContext(connection) as queries:
            client.get(customer.get_absolute_url())
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_profile_saves_the_choice_and_audits_it(client):
    user = UserFactory()
    login_as(client, user)
    page = client.get(reverse("identity:profile")).content.decode()
    assert "Browser default" in page and "English (UK)" in page
    response = client.post(reverse("identity:profile_locale"), {"locale": "en-gb"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.locale == "en-gb"
    row = AuditLogEntry.objects.get(object_type="identity.user", action="update")
    assert row.changes == {"locale": ["", "en-gb"]}
    client.post(reverse("identity:profile_locale"), {"locale": ""})
    user.refresh_from_db()
    assert user.locale == ""


def test_an_unknown_locale_is_refused_and_the_choice_kept(client):
    user = UserFactory(locale="en-gb")
    response = login_as(client, user).post(reverse("identity:profile_locale"), {"locale": "xx"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    user.refresh_from_db()
    assert user.locale == "en-gb"


def test_the_locale_cannot_be_set_through_the_name_form(client):
    user = UserFactory()
    login_as(client, user).post(reverse("identity:profile"), {"full_name": "A", "locale": "de"})
    user.refresh_from_db()
    assert user.locale == ""


def test_the_api_ignores_accept_language_and_the_users_locale(client):
    user = UserFactory(is_superuser=True, locale="de")
    response = login_as(client, user).get("/api/v1/me", headers={"accept_language": "fr"})
    assert response.status_code == 200
    assert "Content-Language" not in response
    page = client.get(reverse("identity:profile"), headers={"accept_language": "fr"})
    assert page["Content-Language"] == "de"


@pytest.mark.parametrize("locale", ["en-gb", "de", "en-us"])
def test_date_pickers_keep_iso_values_in_every_locale(locale):
    """Django renders a date in the locale's first input format ("09/12/1906" for en-GB);
    the browser's date picker drops such a value, and saving the form would clear it."""
    field = forms.DateField(widget=DateInput())
    with translation.override(locale):
        html = field.widget.render("day", dt.date(1906, 12, 9))
        plain = forms.DateInput(attrs={"type": "date"}).render("day", dt.date(1906, 12, 9))
    assert 'type="date"' in html and 'value="1906-12-09"' in html
    if locale != "en-us":  # what the shared widget prevents
        assert 'value="1906-12-09"' not in plain


def test_machine_numbers_stay_in_dot_notation_for_a_comma_locale(client):
    """German writes 0,95: fine for people, not for an <option value>, a query string or
    an <input type="number">, which would then read 0 or nothing."""
    user = UserFactory(is_superuser=True, locale="de")
    html = login_as(client, user).get(reverse("dedupe:queue"), {"min": "0.95"}).content.decode()
    assert '<option value="0.95" selected>' in html
    assert re.search(r'name="auto_merge_threshold"[^>]*value="\d\.\d+"', html)
    assert not re.search(r'value="\d,\d', html)
