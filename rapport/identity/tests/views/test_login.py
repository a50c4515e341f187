"""The login page: brute-force lockout (django-axes), rate limits, safe `next=`, and the
two-step login for users with an authenticator."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rapport.core.models import AuditLogEntry
from rapport.identity.services import two_factor_confirm, two_factor_start
from rapport.identity.tests.conftest import code_for, enrol, login_as
from rapport.identity.tests.factories import PASSWORD, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/login/"


def post_login(client: Client, email: str, password: str, next_url: str | None = None):
    data = {"username": email, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post(LOGIN, data)


def is_logged_in(client: Client) -> bool:
    return client.get(reverse("identity:profile")).status_code == 200


def test_password_login_lands_on_the_start_page():
    user = UserFactory(email="ann@example.com")
    client = Client()
    response = post_login(client, "Ann@Example.com", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("core:home")
    assert int(client.session["_auth_user_id"]) == user.pk
    row = AuditLogEntry.objects.get(action="login")
    assert (row.actor_id, row.changes) == (user.pk, {"two_factor": [None, False]})


def test_wrong_password_is_refused_with_a_message():
    UserFactory(email="ann@example.com")
    client = Client()
    response = post_login(client, "ann@example.com", "wrong")
    assert response.status_code == 200
    assert b"do not match an active account" in response.content
    assert not is_logged_in(client)


def test_inactive_user_cannot_log_in():
    UserFactory(email="ann@example.com", is_active=False)
    client = Client()
    post_login(client, "ann@example.com", PASSWORD)
    assert not is_logged_in(client)


def test_lockout_after_repeated_failures_even_with_the_right_password(settings):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(email="ann@example.com")
    client = Client()
    for _ in range(2):
        assert post_login(client, "ann@example.com", "wrong").status_code == 200
    locked = post_login(client, "ann@example.com", "wrong")
    assert locked.status_code == 429
    assert b"Account temporarily locked" in locked.content
    assert b"15 minutes" in locked.content
    # The right password no longer helps while locked.
    response = post_login(client, "ann@example.com", PASSWORD)
    assert response.status_code == 429
    assert not is_logged_in(client)


def test_lockout_is_per_account_and_address(settings):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(email="ann@example.com")
    UserFactory(email="bob@example.com")
    attacker = Client()
    for _ in range(3):
        post_login(attacker, "ann@example.com", "wrong")
    assert post_login(attacker, "bob@example.com", PASSWORD).status_code == 302
    elsewhere = Client(REMOTE_ADDR="10.1.1.1")
    assert post_login(elsewhere, "ann@example.com", PASSWORD).status_code == 302


def test_lockout_ends_after_the_cool_off(settings):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(email="ann@example.com")
    client = Client()
    for _ in range(3):
        post_login(client, "ann@example.com", "wrong")
    assert post_login(client, "ann@example.com", PASSWORD).status_code == 429
    # Age the recorded failures past the 15-minute cool-off.
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
    assert post_login(client, "ann@example.com", PASSWORD).status_code == 302


def test_an_admin_lifts_the_lockout(settings, admin_user):
    settings.AXES_FAILURE_LIMIT = 3
    ann = UserFactory(email="ann@example.com")
    client = Client()
    for _ in range(3):
        post_login(client, "ann@example.com", "wrong")
    admin = login_as(Client(), admin_user)
    response = admin.post(reverse("identity:settings_user_unlock", args=[ann.pk]))
    assert response.status_code == 302
    assert post_login(client, "ann@example.com", PASSWORD).status_code == 302


def test_login_posts_are_rate_limited_per_address(settings):
    settings.RATELIMIT_LOGIN = "4/m"
    settings.AXES_FAILURE_LIMIT = 100
    client = Client()
    statuses = [post_login(client, f"u{i}@example.com", "x").status_code for i in range(6)]
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert b"Too many attempts" in post_login(client, "u@example.com", "x").content


@pytest.mark.parametrize(
    "hostile",
    ["//evil.tld", "/\\evil.tld", "https://evil.tld", "http://testserver/x", "javascript:alert(1)"],
)
def test_next_never_leaves_our_origin(hostile):
    UserFactory(email="ann@example.com")
    response = post_login(Client(), "ann@example.com", PASSWORD, next_url=hostile)
    assert response.status_code == 302
    assert response["Location"] == reverse("core:home")


def test_next_on_our_origin_is_followed():
    UserFactory(email="ann@example.com")
    response = post_login(Client(), "ann@example.com", PASSWORD, next_url="/jobs/?page=2")
    assert response["Location"] == "/jobs/?page=2"


def test_next_from_the_query_string_is_kept_and_checked():
    response = Client().get(LOGIN + "?next=//evil.tld")
    assert b'value="/"' in response.content  # the hostile value never reaches the form
    assert b"evil.tld" not in response.content


# --- Two-factor login -------------------------------------------------------------------


def test_two_factor_login_needs_password_then_code(no_otp_throttle):
    user = UserFactory(email="ann@example.com")
    device = enrol(user)
    client = Client()
    response = post_login(client, "ann@example.com", PASSWORD, next_url="/jobs/")
    assert response["Location"] == reverse("identity:login_verify")
    assert not is_logged_in(client)

    wrong = client.post(reverse("identity:login_verify"), {"token": "000000"})
    assert wrong.status_code == 200
    assert b"That code is not valid" in wrong.content
    assert not is_logged_in(client)

    right = client.post(reverse("identity:login_verify"), {"token": code_for(device)})
    assert right.status_code == 302
    assert right["Location"] == "/jobs/"
    assert is_logged_in(client)
    assert AuditLogEntry.objects.get(action="login").changes == {"two_factor": [None, True]}


def test_backup_code_logs_in_once(no_otp_throttle):
    user = UserFactory(email="ann@example.com")
    two_factor_start(actor=user)
    pending = user.totpdevice_set.get()
    _, codes = two_factor_confirm(actor=user, token=code_for(pending))

    first = Client()
    post_login(first, "ann@example.com", PASSWORD)
    assert first.post(reverse("identity:login_verify"), {"token": codes[0]}).status_code == 302
    assert is_logged_in(first)

    second = Client()
    post_login(second, "ann@example.com", PASSWORD)
    again = second.post(reverse("identity:login_verify"), {"token": codes[0]})
    assert again.status_code == 200
    assert not is_logged_in(second)
    assert second.post(reverse("identity:login_verify"), {"token": codes[1]}).status_code == 302


def test_device_throttle_refuses_even_the_right_code_right_after_a_wrong_one():
    user = UserFactory(email="ann@example.com")
    device = enrol(user)
    client = Client()
    post_login(client, "ann@example.com", PASSWORD)
    client.post(reverse("identity:login_verify"), {"token": "000000"})
    response = client.post(reverse("identity:login_verify"), {"token": code_for(device)})
    assert response.status_code == 200
    assert b"wait a few seconds" in response.content
    assert not is_logged_in(client)


def test_verify_step_without_password_step_goes_back_to_login():
    response = Client().post(reverse("identity:login_verify"), {"token": "123456"})
    assert response["Location"] == reverse("identity:login")


def test_two_factor_attempts_are_rate_limited(settings):
    settings.RATELIMIT_TWO_FACTOR = "3/m"
    user = UserFactory(email="ann@example.com")
    enrol(user)
    client = Client()
    post_login(client, "ann@example.com", PASSWORD)
    statuses = [
        client.post(reverse("identity:login_verify"), {"token": "000000"}).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_role_requiring_two_factor_forces_enrolment_before_anything_else():
    role = RoleFactory(requires_two_factor=True)
    UserFactory(email="ann@example.com", role=role)
    client = Client()
    assert post_login(client, "ann@example.com", PASSWORD).status_code == 302
    for path in ["/", "/profile/", "/api-keys/", "/customers/"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == reverse("identity:two_factor")
    api = client.get("/api/v1/me")
    assert api.status_code == 401
    assert api["Content-Type"] == "application/problem+json"

    # Enrol: start, scan, confirm with a code; then the app opens.
    assert client.post(reverse("identity:two_factor_setup")).status_code == 302
    device = client.get(reverse("identity:two_factor")).context["state"].pending
    confirmed = client.post(reverse("identity:two_factor_confirm"), {"token": code_for(device)})
    assert confirmed.status_code == 200
    assert len(confirmed.context["codes"]) == 10
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me").status_code == 200


def test_unverified_session_of_an_enrolled_user_is_sent_to_verify(no_otp_throttle):
    role = RoleFactory(requires_two_factor=True)
    user = UserFactory(email="ann@example.com", role=role)
    device = enrol(user)
    client = login_as(Client(), user)  # e.g. a session opened before enrolment
    response = client.get("/profile/")
    assert response["Location"] == reverse("identity:two_factor_verify")
    page = client.get(reverse("identity:two_factor_verify"))
    assert page.status_code == 200
    wrong = client.post(reverse("identity:two_factor_verify"), {"token": "000000"})
    assert b"That code is not valid" in wrong.content
    ok = client.post(
        reverse("identity:two_factor_verify"), {"token": code_for(device), "next": "//evil.tld"}
    )
    assert ok["Location"] == reverse("core:home")
    assert client.get("/profile/").status_code == 200


def test_logout_needs_post_and_ends_the_session():
    user = UserFactory()
    client = login_as(Client(), user)
    assert client.get(reverse("identity:logout")).status_code == 405
    assert client.post(reverse("identity:logout"))["Location"] == reverse("identity:login")
    assert not is_logged_in(client)
