"""Two-factor set-up pages: QR code and secret, confirmation, backup codes, turning off."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from rapport.core.models import AuditLogEntry
from rapport.identity.tests.conftest import code_for, login_as
from rapport.identity.tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db


def start(client: Client) -> TOTPDevice:
    assert client.post(reverse("identity:two_factor_setup")).status_code == 302
    return TOTPDevice.objects.get(confirmed=False)


def test_setup_shows_an_inline_svg_qr_code_and_the_secret(client):
    user = UserFactory()
    login_as(client, user)
    assert b"Set up two-factor login" in client.get(reverse("identity:two_factor")).content
    device = start(client)
    page = client.get(reverse("identity:two_factor"))
    assert page.status_code == 200
    assert b"<svg" in page.content
    secret = page.context["secret"].replace(" ", "")
    import base64

    assert base64.b32decode(secret + "=" * (-len(secret) % 8)) == device.bin_key


def test_confirm_with_a_wrong_code_keeps_it_off(client):
    user = UserFactory()
    login_as(client, user)
    start(client)
    response = client.post(reverse("identity:two_factor_confirm"), {"token": "000000"})
    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def test_confirm_shows_ten_backup_codes_once_and_they_are_stored(client):
    user = UserFactory()
    login_as(client, user)
    device = start(client)
    response = client.post(reverse("identity:two_factor_confirm"), {"token": code_for(device)})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    codes = response.context["codes"]
    assert len(set(codes)) == 10
    stored = StaticToken.objects.filter(device__user=user).values_list("token", flat=True)
    assert set(stored) == set(codes)
    status = client.get(reverse("identity:two_factor"))
    assert b"10 unused backup codes" in status.content
    assert codes[0].encode() not in status.content
    assert AuditLogEntry.objects.filter(changes__event=[None, "two_factor_enabled"]).exists()


def test_disable_needs_a_valid_code(client, no_otp_throttle):
    user = UserFactory()
    login_as(client, user)
    device = start(client)
    client.post(reverse("identity:two_factor_confirm"), {"token": code_for(device)})
    refused = client.post(reverse("identity:two_factor_disable"), {"token": "000000"})
    assert refused.status_code == 400
    assert TOTPDevice.objects.filter(user=user).exists()
    ok = client.post(reverse("identity:two_factor_disable"), {"token": code_for(device, drift=1)})
    assert ok.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticToken.objects.filter(device__user=user).exists()


def test_disable_is_refused_when_the_role_requires_two_factor(client):
    user = UserFactory(role=RoleFactory(requires_two_factor=True))
    login_as(client, user)
    device = start(client)
    client.post(reverse("identity:two_factor_confirm"), {"token": code_for(device)})
    response = client.post(
        reverse("identity:two_factor_disable"), {"token": code_for(device, drift=1)}
    )
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def test_new_backup_codes_replace_the_old_ones(client):
    user = UserFactory()
    login_as(client, user)
    device = start(client)
    old = client.post(reverse("identity:two_factor_confirm"), {"token": code_for(device)})
    old_codes = set(old.context["codes"])
    response = client.post(reverse("identity:two_factor_backup_codes"), {"token": old_codes.pop()})
    new_codes = set(response.context["codes"])
    assert len(new_codes) == 10
    stored = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert stored == new_codes
    assert not (stored & old_codes)


def test_two_factor_attempts_on_the_pages_are_rate_limited(client, settings):
    settings.RATELIMIT_TWO_FACTOR = "2/m"
    login_as(client, UserFactory())
    start(client)
    statuses = [
        client.post(reverse("identity:two_factor_confirm"), {"token": "000000"}).status_code
        for _ in range(3)
    ]
    assert statuses == [400, 400, 429]


def test_enabling_two_factor_ends_the_other_password_only_sessions():
    user = UserFactory()
    here, elsewhere = login_as(Client(), user), login_as(Client(), user)
    device = start(here)
    response = here.post(reverse("identity:two_factor_confirm"), {"token": code_for(device)})
    assert response.status_code == 200
    assert here.get(reverse("identity:profile")).status_code == 200
    assert here.session.get("otp_device_id")  # this session counts as verified
    gone = elsewhere.get(reverse("identity:profile"))
    assert gone.status_code == 302 and gone["Location"].startswith(reverse("identity:login"))


def test_admin_two_factor_reset_ends_the_users_sessions(admin_client):
    user = UserFactory()
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    theirs = login_as(Client(), user)
    assert theirs.get(reverse("identity:profile")).status_code == 200
    admin_client.post(reverse("identity:settings_user_two_factor_reset", args=[user.pk]))
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert theirs.get(reverse("identity:profile")).status_code == 302
