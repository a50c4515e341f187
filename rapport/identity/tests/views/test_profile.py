"""The profile page: name, password change (other sessions end), no mass assignment."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from rapport.core.models import AuditLogEntry
from rapport.identity.tests.conftest import login_as
from rapport.identity.tests.factories import PASSWORD, RoleFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW = "another long passphrase 77"


def test_profile_page_shows_the_forms(client):
    user = UserFactory(full_name="Ann Example")
    response = login_as(client, user).get(reverse("identity:profile"))
    assert response.status_code == 200
    assert b"Ann Example" in response.content
    assert b"Change your password" in response.content


def test_profile_requires_login(client):
    response = client.get(reverse("identity:profile"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("identity:login"))


def test_name_change_is_saved_and_audited(client):
    user = UserFactory(full_name="Old")
    response = login_as(client, user).post(reverse("identity:profile"), {"full_name": "New Name"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.full_name == "New Name"
    row = AuditLogEntry.objects.get(object_type="identity.user", action="update")
    assert row.changes == {"full_name": ["Old", "New Name"]}


def test_profile_post_cannot_set_role_staff_superuser_teams_or_email(client):
    user = UserFactory(email="ann@example.com", full_name="Ann")
    admin_role = RoleFactory(is_admin=True)
    team = TeamFactory()
    login_as(client, user).post(
        reverse("identity:profile"),
        {
            "full_name": "Ann B",
            "is_staff": "on",
            "is_superuser": "on",
            "role": admin_role.pk,
            "teams": [team.pk],
            "email": "boss@example.com",
            "is_active": "",
        },
    )
    user.refresh_from_db()
    assert user.full_name == "Ann B"
    assert (user.is_staff, user.is_superuser, user.role_id, user.email, user.is_active) == (
        False,
        False,
        None,
        "ann@example.com",
        True,
    )
    assert list(user.teams.all()) == []


def test_password_change_keeps_this_session_and_ends_the_others():
    user = UserFactory()
    here, elsewhere = login_as(Client(), user), login_as(Client(), user)
    assert elsewhere.get(reverse("identity:profile")).status_code == 200

    response = here.post(
        reverse("identity:profile_password"),
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert here.get(reverse("identity:profile")).status_code == 200
    logged_out = elsewhere.get(reverse("identity:profile"))
    assert logged_out.status_code == 302
    assert logged_out["Location"].startswith(reverse("identity:login"))
    assert AuditLogEntry.objects.filter(
        action="security", changes__event=[None, "password_changed"]
    ).exists()


def test_password_change_needs_the_old_password_and_a_strong_new_one(client):
    user = UserFactory()
    login_as(client, user)
    wrong_old = client.post(
        reverse("identity:profile_password"),
        {"old_password": "nope", "new_password1": NEW, "new_password2": NEW},
    )
    assert wrong_old.status_code == 400
    weak = client.post(
        reverse("identity:profile_password"),
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert weak.status_code == 400
    assert b"too short" in weak.content
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_log_out_everywhere_else_keeps_only_this_session():
    user = UserFactory()
    here, elsewhere = login_as(Client(), user), login_as(Client(), user)
    response = here.post(reverse("identity:profile_sessions_end"))
    assert response.status_code == 302
    assert here.get(reverse("identity:profile")).status_code == 200
    assert elsewhere.get(reverse("identity:profile")).status_code == 302
    user.refresh_from_db()
    assert user.check_password(PASSWORD)  # the password did not have to change
    assert AuditLogEntry.objects.filter(changes__event=[None, "sessions_ended"]).exists()
