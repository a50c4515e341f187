"""The public web-to-lead endpoint: validation, honeypot, origin allow-list, rate limit per
IP, UTM parameters recorded, and no second lead for a known person."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from rapport.sales.models import Lead

pytestmark = pytest.mark.django_db

SITE = "https://www.example.com"
URL = "/sales/forms/lead/"


@pytest.fixture(autouse=True)
def _allowed(settings: Any) -> None:
    settings.SALES_WEB_FORM_ORIGINS = [SITE]
    settings.RATELIMIT_WEB_LEAD = "3/h"


def _post(data: dict[str, str], origin: str = SITE, ip: str = "203.0.113.5") -> Any:
    return Client().post(URL, data, HTTP_ORIGIN=origin, REMOTE_ADDR=ip)


def test_a_form_post_captures_the_lead_with_its_campaign() -> None:
    response = _post(
        {
            "first_name": "Jo",
            "last_name": "Berg",
            "email": "jo@x.example",
            "utm_source": "google",
            "utm_campaign": "spring",
            "message": "Call me",
        }
    )
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert response["Access-Control-Allow-Origin"] == SITE
    lead = Lead.objects.get()
    assert (lead.email, lead.utm_source, lead.utm_campaign) == ("jo@x.example", "google", "spring")
    assert lead.source == "web form"


def test_a_second_form_from_the_same_person_updates_the_lead() -> None:
    _post({"email": "jo@x.example", "message": "First"})
    _post({"email": "jo@x.example", "message": "Second"}, ip="203.0.113.6")
    lead = Lead.objects.get()
    assert lead.touches == 2 and "Second" in lead.message


def test_invalid_input_is_refused_with_the_field() -> None:
    response = _post({"email": "not-an-email"})
    assert response.status_code == 400 and "email" in response.json()["errors"]
    assert not Lead.objects.exists()


def test_the_honeypot_answers_ok_and_keeps_nothing() -> None:
    response = _post({"email": "bot@x.example", "website": "http://spam.example"})
    assert response.status_code == 200 and not Lead.objects.exists()


@pytest.mark.parametrize("origin", ["https://evil.example", ""])
def test_other_origins_are_refused(origin: str) -> None:
    response = _post({"email": "jo@x.example"}, origin=origin)
    assert response.status_code == 403 and not Lead.objects.exists()


def test_rate_limit_per_ip() -> None:
    codes = [_post({"email": f"p{i}@x.example"}).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
    assert _post({"email": "other@x.example"}, ip="198.51.100.7").status_code == 200
    assert Lead.objects.count() == 4


def test_a_plain_html_form_is_sent_back_to_the_thank_you_page() -> None:
    response = _post({"email": "jo@x.example", "redirect": f"{SITE}/thanks"})
    assert response.status_code == 302 and response["Location"] == f"{SITE}/thanks"
    elsewhere = _post({"email": "ann@x.example", "redirect": "https://evil.example/x"})
    assert elsewhere.status_code == 200  # never redirected off the allowed site
