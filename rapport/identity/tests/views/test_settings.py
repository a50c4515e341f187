"""Settings pages (users, teams, roles): administrators only, CSRF-protected, explicit
fields, and the rules that keep an admin from locking themselves out."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from rapport.core.models import AuditLogEntry
from rapport.identity.models import ApiKey, Role, RolePermission, Team, User
from rapport.identity.tests.conftest import login_as
from rapport.identity.tests.factories import (
    PASSWORD,
    RoleFactory,
    TeamFactory,
    UserFactory,
    api_key_for,
)

pytestmark = pytest.mark.django_db

GRANT = "grant__customers__customer__"


def settings_urls(user: User, team: Team, role: Role) -> list[str]:
    return [
        reverse("identity:settings"),
        reverse("identity:settings_users"),
        reverse("identity:settings_user_create"),
        reverse("identity:settings_user", args=[user.pk]),
        reverse("identity:settings_teams"),
        reverse("identity:settings_team_create"),
        reverse("identity:settings_team", args=[team.pk]),
        reverse("identity:settings_roles"),
        reverse("identity:settings_role_create"),
        reverse("identity:settings_role", args=[role.pk]),
    ]


def post_urls(user: User, team: Team, role: Role) -> list[str]:
    return [
        reverse("identity:settings_user_unlock", args=[user.pk]),
        reverse("identity:settings_user_two_factor_reset", args=[user.pk]),
        reverse("identity:settings_user_password_link", args=[user.pk]),
        reverse("identity:settings_team_delete", args=[team.pk]),
        reverse("identity:settings_role_delete", args=[role.pk]),
    ]


def test_every_settings_page_is_403_for_non_admins(client):
    manager = UserFactory(role=RoleFactory(name="Manager"))
    team, role = TeamFactory(), RoleFactory()
    login_as(client, manager)
    for url in settings_urls(manager, team, role):
        assert client.get(url).status_code == 403, url
    for url in [*settings_urls(manager, team, role), *post_urls(manager, team, role)]:
        assert client.post(url, {"name": "x", "is_admin": "on"}).status_code == 403, url
    assert Team.objects.count() == 1 and Role.objects.filter(is_admin=True).count() == 0
    assert not manager.role.is_admin


def test_settings_need_login(client):
    response = client.get(reverse("identity:settings_users"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("identity:login"))


def test_every_settings_page_opens_for_an_admin(admin_client, admin_user):
    team, role = TeamFactory(), RoleFactory()
    for url in settings_urls(admin_user, team, role):
        response = admin_client.get(url, follow=True)
        assert response.status_code == 200, url


def test_settings_posts_need_a_csrf_token(admin_user):
    client = login_as(Client(enforce_csrf_checks=True), admin_user)
    response = client.post(reverse("identity:settings_team_create"), {"name": "Sneaky"})
    assert response.status_code == 403
    assert not Team.objects.filter(name="Sneaky").exists()
    # With the token from the page, the same post works.
    page = client.get(reverse("identity:settings_team_create"))
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1)
    ok = client.post(
        reverse("identity:settings_team_create"),
        {"name": "Sneaky", "csrfmiddlewaretoken": token.decode()},
    )
    assert ok.status_code == 302
    assert Team.objects.filter(name="Sneaky").exists()


# --- Users --------------------------------------------------------------------------


def test_create_user_with_a_temporary_password(admin_client):
    role, team = RoleFactory(name="Rep"), TeamFactory(name="North")
    response = admin_client.post(
        reverse("identity:settings_user_create"),
        {
            "email": "New@Example.com",
            "full_name": "New Person",
            "role": role.pk,
            "teams": [team.pk],
            "password_mode": "password",
            "password": "temporary passphrase 1",
            "is_superuser": "on",
            "is_staff": "on",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert user.check_password("temporary passphrase 1")
    assert (user.role, list(user.teams.all()), user.is_staff, user.is_superuser) == (
        role,
        [team],
        False,
        False,
    )
    assert AuditLogEntry.objects.filter(object_type="identity.user", action="create").exists()
    login = Client().post("/login/", {"username": user.email, "password": "temporary passphrase 1"})
    assert login.status_code == 302


def test_create_user_with_an_emailed_link(admin_client, smtp):
    response = admin_client.post(
        reverse("identity:settings_user_create"),
        {"email": "invited@example.com", "password_mode": "link"},
    )
    assert response.status_code == 302
    user = User.objects.get(email="invited@example.com")
    assert not user.has_usable_password()
    [message] = smtp.to("invited@example.com")
    assert message["Subject"] == "Set your Rapport password"
    path = re.search(r"https?://[^/\s]+(/password-reset/\S+/)", message.get_payload()).group(1)
    form = Client().get(path, follow=True)
    assert form.context["validlink"]


def test_duplicate_email_is_refused_on_the_field(admin_client, admin_user):
    response = admin_client.post(
        reverse("identity:settings_user_create"),
        {"email": admin_user.email.upper(), "password_mode": "link"},
    )
    assert response.status_code == 400
    assert "already exists" in str(response.context["form"].errors["email"])


def test_deactivating_ends_sessions_and_revokes_api_keys(admin_client):
    user = UserFactory()
    _, raw = api_key_for(user, ["customers.customer:read"])
    their_session = login_as(Client(), user)
    assert their_session.get(reverse("identity:profile")).status_code == 200

    response = admin_client.post(
        reverse("identity:settings_user", args=[user.pk]),
        {"full_name": user.full_name, "role": "", "is_active": ""},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert their_session.get(reverse("identity:profile")).status_code == 302
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert ApiKey.objects.get(user=user).revoked_at is not None
    login = Client().post("/login/", {"username": user.email, "password": PASSWORD})
    assert login.status_code == 200  # the form again, not a redirect into the app


def test_admin_cannot_deactivate_themselves(admin_client, admin_user):
    response = admin_client.post(
        reverse("identity:settings_user", args=[admin_user.pk]),
        {"full_name": "x", "role": admin_user.role_id, "is_active": ""},
    )
    assert response.status_code == 400
    assert b"cannot deactivate yourself" in response.content
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_admin_cannot_give_themselves_a_non_admin_role(admin_client, admin_user):
    plain = RoleFactory(name="Plain")
    response = admin_client.post(
        reverse("identity:settings_user", args=[admin_user.pk]),
        {"full_name": "x", "role": plain.pk, "is_active": "on"},
    )
    assert response.status_code == 400
    assert b"your own administrator rights" in response.content
    admin_user.refresh_from_db()
    assert admin_user.role.is_admin


def test_admin_cannot_strip_admin_from_their_own_role(admin_client, admin_user):
    response = admin_client.post(
        reverse("identity:settings_role", args=[admin_user.role_id]),
        {"name": "Administrator", f"{GRANT}scope": "own"},
    )
    assert response.status_code == 400
    assert Role.objects.get(pk=admin_user.role_id).is_admin


def test_edit_user_changes_role_and_teams_and_audits(admin_client):
    user = UserFactory(full_name="Ann")
    role, team = RoleFactory(name="Rep"), TeamFactory(name="South")
    admin_client.post(
        reverse("identity:settings_user", args=[user.pk]),
        {"full_name": "Ann B", "role": role.pk, "teams": [team.pk], "is_active": "on"},
    )
    user.refresh_from_db()
    assert (user.full_name, user.role, list(user.teams.all())) == ("Ann B", role, [team])
    row = AuditLogEntry.objects.get(object_type="identity.user", action="update")
    assert row.changes["teams"] == [[], ["South"]]
    assert row.changes["full_name"] == ["Ann", "Ann B"]


def test_users_list_query_count_is_flat(admin_client, django_assert_max_num_queries):
    teams = [TeamFactory(), TeamFactory()]
    role = RoleFactory()
    for _ in range(40):
        UserFactory(role=role, teams=teams)
    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse("identity:settings_users"))
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 41


def test_users_list_search(admin_client):
    UserFactory(email="zed@example.com", full_name="Zed Zulu")
    response = admin_client.get(reverse("identity:settings_users"), {"q": "zulu"})
    assert [u.email for u in response.context["page"]] == ["zed@example.com"]


# --- Teams --------------------------------------------------------------------------


def test_team_create_edit_delete(admin_client):
    ann, bob = UserFactory(), UserFactory()
    admin_client.post(
        reverse("identity:settings_team_create"),
        {"name": "North", "description": "Region", "members": [ann.pk, bob.pk]},
    )
    team = Team.objects.get(name="North")
    assert set(team.members.all()) == {ann, bob}
    admin_client.post(
        reverse("identity:settings_team", args=[team.pk]),
        {"name": "North-East", "description": "", "members": [ann.pk]},
    )
    team.refresh_from_db()
    assert team.name == "North-East" and list(team.members.all()) == [ann]
    duplicate = admin_client.post(reverse("identity:settings_team_create"), {"name": "north-east"})
    assert duplicate.status_code == 400
    admin_client.post(reverse("identity:settings_team_delete", args=[team.pk]))
    assert not Team.objects.exists()
    actions = list(
        AuditLogEntry.objects.filter(object_type="identity.team")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["create", "update", "delete"]


def test_teams_list_query_count_is_flat(admin_client, django_assert_max_num_queries):
    for _ in range(30):
        UserFactory(teams=[TeamFactory()])
    with django_assert_max_num_queries(6):
        response = admin_client.get(reverse("identity:settings_teams"))
    assert response.content.count(b"/settings/teams/") >= 30


# --- Roles --------------------------------------------------------------------------


def test_role_matrix_saves_actions_and_scope(admin_client):
    response = admin_client.post(
        reverse("identity:settings_role_create"),
        {
            "name": "Manager",
            "requires_two_factor": "on",
            f"{GRANT}view": "on",
            f"{GRANT}edit": "on",
            f"{GRANT}export": "on",
            f"{GRANT}scope": "team",
        },
    )
    assert response.status_code == 302
    role = Role.objects.get(name="Manager")
    assert role.requires_two_factor and not role.is_admin
    perm = RolePermission.objects.get(role=role)
    assert perm.object_type == "customers.customer"
    assert (perm.can_view, perm.can_create, perm.can_edit, perm.can_delete, perm.can_export) == (
        True,
        False,
        True,
        False,
        True,
    )
    assert perm.scope == "team"
    page = admin_client.get(reverse("identity:settings_role", args=[role.pk]))
    assert page.context["form"][f"{GRANT}scope"].value() == "team"
    assert page.context["form"][f"{GRANT}edit"].value() is True


def test_role_with_a_hostile_scope_is_refused(admin_client):
    response = admin_client.post(
        reverse("identity:settings_role_create"),
        {"name": "Odd", f"{GRANT}view": "on", f"{GRANT}scope": "everything'; drop table"},
    )
    assert response.status_code == 400
    assert not Role.objects.filter(name="Odd").exists()


def test_role_in_use_cannot_be_deleted(admin_client):
    role = RoleFactory(name="Busy")
    UserFactory(role=role)
    admin_client.post(reverse("identity:settings_role_delete", args=[role.pk]))
    assert Role.objects.filter(pk=role.pk).exists()
    free = RoleFactory(name="Free")
    admin_client.post(reverse("identity:settings_role_delete", args=[free.pk]))
    assert not Role.objects.filter(pk=free.pk).exists()


def test_roles_list_query_count_is_flat(admin_client, django_assert_max_num_queries):
    for i in range(25):
        role = RoleFactory(name=f"R{i}")
        RolePermission.objects.create(role=role, object_type="customers.customer", can_view=True)
        UserFactory(role=role)
    with django_assert_max_num_queries(6):
        response = admin_client.get(reverse("identity:settings_roles"))
    # Issue 17: roles read "Customers: all records", not the internal "customers.customer".
    assert response.content.count(b"Customers: ") >= 25
    assert b"customers.customer" not in response.content


def test_user_detail_query_count_is_flat(admin_client, django_assert_max_num_queries):
    teams = [TeamFactory() for _ in range(10)]
    user = UserFactory(role=RoleFactory(), teams=teams[:5])
    for i in range(25):
        api_key_for(user, ["customers.customer:read"], name=f"k{i}")
    with django_assert_max_num_queries(14):
        response = admin_client.get(reverse("identity:settings_user", args=[user.pk]))
    assert response.content.count(b"k1") >= 1
    assert len(response.context["keys"]) == 25


def test_role_detail_query_count_is_flat(admin_client, admin_user, django_assert_max_num_queries):
    role = RoleFactory()
    RolePermission.objects.create(role=role, object_type="customers.customer", can_view=True)
    for _ in range(20):
        UserFactory(role=role)
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("identity:settings_role", args=[role.pk]))
    assert response.status_code == 200


def test_team_detail_query_count_is_flat(admin_client, django_assert_max_num_queries):
    team = TeamFactory()
    for _ in range(30):
        UserFactory(teams=[team])
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("identity:settings_team", args=[team.pk]))
    assert response.content.count(b'name="members"') == 31  # every active user, admin too
