"""Password reset by e-mail, through a real SMTP server: the link works, dies after the
password changes or the user is deactivated, and requests are capped per address and IP."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from rapport.core.models import AuditLogEntry
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 42"
LINK = re.compile(r"https?://[^/\s]+(/password-reset/[^/\s]+/[^/\s]+/)")


def request_reset(client: Client, address: str):
    return client.post(reverse("identity:password_reset"), {"email": address})


def link_path(message) -> str:
    body = message.get_payload(decode=True).decode()
    match = LINK.search(body)
    assert match, body
    return match.group(1)


def set_password(client: Client, path: str, password: str = NEW_PASSWORD):
    """Follow the e-mailed link as a browser does and submit a new password."""
    response = client.get(path, follow=True)
    assert response.status_code == 200
    if not response.context["validlink"]:
        return response
    form_url = response.redirect_chain[-1][0]
    return client.post(form_url, {"new_password1": password, "new_password2": password})


def test_reset_email_goes_out_over_smtp_and_the_link_sets_the_password(smtp, settings):
    user = UserFactory(email="ann@example.com")
    response = request_reset(Client(), "ANN@example.com ")
    assert response.status_code == 302
    assert response["Location"] == reverse("identity:password_reset_sent")

    [message] = smtp.to("ann@example.com")
    assert message["Subject"] == "Reset your Rapport password"
    body = message.get_payload(decode=True).decode()
    # Built on SITE_URL, never on the request's Host header.
    assert settings.SITE_URL + "/password-reset/" in body

    response = set_password(Client(), link_path(message))
    assert response.status_code == 302
    assert response["Location"] == reverse("identity:password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert AuditLogEntry.objects.filter(
        action="security", object_id=str(user.pk), changes__event=[None, "password_reset"]
    ).exists()


def test_a_forged_host_header_does_not_reach_the_link(smtp, settings):
    settings.ALLOWED_HOSTS = ["*"]
    UserFactory(email="ann@example.com")
    Client(HTTP_HOST="evil.tld").post(
        reverse("identity:password_reset"), {"email": "ann@example.com"}
    )
    [message] = smtp.messages
    assert "evil.tld" not in message.get_payload(decode=True).decode()


def test_link_dies_once_the_password_changed(smtp):
    user = UserFactory(email="ann@example.com")
    request_reset(Client(), "ann@example.com")
    path = link_path(smtp.messages[0])
    user.set_password("changed elsewhere 1234")
    user.save()

    response = set_password(Client(), path)
    assert response.context["validlink"] is False
    assert b"This link no longer works" in response.content
    user.refresh_from_db()
    assert user.check_password("changed elsewhere 1234")


def test_link_is_single_use(smtp):
    UserFactory(email="ann@example.com")
    request_reset(Client(), "ann@example.com")
    path = link_path(smtp.messages[0])
    assert set_password(Client(), path).status_code == 302
    assert set_password(Client(), path, "yet another passphrase 9").context["validlink"] is False


def test_link_dies_when_the_user_is_deactivated(smtp):
    user = UserFactory(email="ann@example.com")
    request_reset(Client(), "ann@example.com")
    path = link_path(smtp.messages[0])
    user.is_active = False
    user.save()

    response = set_password(Client(), path)
    assert response.context["validlink"] is False
    user.refresh_from_db()
    assert not user.check_password(NEW_PASSWORD)


def test_unknown_and_inactive_addresses_get_the_same_answer_and_no_mail(smtp):
    UserFactory(email="gone@example.com", is_active=False)
    known = request_reset(Client(), "nobody@example.com")
    inactive = request_reset(Client(), "gone@example.com")
    assert known.status_code == inactive.status_code == 302
    assert known["Location"] == inactive["Location"]
    assert smtp.messages == []


def test_reset_mails_per_address_are_capped_with_the_same_answer(smtp, settings):
    settings.RATELIMIT_PASSWORD_RESET_PER_EMAIL = "2/h"
    UserFactory(email="ann@example.com")
    answers = [request_reset(Client(), "ann@example.com") for _ in range(4)]
    assert {a.status_code for a in answers} == {302}
    assert len(smtp.to("ann@example.com")) == 2


def test_reset_requests_per_client_address_get_429(smtp, settings):
    settings.RATELIMIT_PASSWORD_RESET = "3/h"
    client = Client()
    statuses = [request_reset(client, f"x{i}@example.com").status_code for i in range(5)]
    assert statuses == [302, 302, 302, 429, 429]
    # Another address is unaffected.
    assert request_reset(Client(REMOTE_ADDR="10.0.0.9"), "y@example.com").status_code == 302


def test_login_page_links_to_password_reset(client):
    response = client.get(reverse("identity:login"))
    assert reverse("identity:password_reset").encode() in response.content
    assert b"Forgot your password?" in response.content
    assert client.get(reverse("identity:password_reset")).status_code == 200
