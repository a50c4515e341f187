"""Administrators change and remove teams and roles (`team_update`, `team_delete`,
`role_delete`): one audit row each, and nobody silently loses access."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.core.models import AuditLogEntry
from rapport.core.permissions import Scope
from rapport.identity import services
from rapport.identity.models import Role, Team, User
from rapport.identity.tests.factories import RoleFactory, TeamFactory, UserFactory, user_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(role=RoleFactory(is_admin=True))


def _row(obj, action: str) -> AuditLogEntry:
    return AuditLogEntry.objects.get(object_id=str(obj.pk), action=action)


def test_team_update_renames_and_changes_members_in_one_audit_row(admin) -> None:
    ada, grace, alan = (UserFactory(email=f"{n}@example.com") for n in ("ada", "grace", "alan"))
    team = services.team_create(actor=admin, name="North", members=[ada, grace])
    services.team_update(
        actor=admin, team=team, name=" North-East ", description="Sales", members=[grace, alan]
    )
    team.refresh_from_db()
    assert (team.name, team.description) == ("North-East", "Sales")
    assert set(team.members.all()) == {grace, alan}
    row = _row(team, "update")
    assert row.changes == {
        "name": ["North", "North-East"],
        "description": ["", "Sales"],
        "members": [
            ["ada@example.com", "grace@example.com"],
            ["alan@example.com", "grace@example.com"],
        ],
    }


def test_team_update_refuses_a_taken_name_and_non_admins(admin) -> None:
    TeamFactory(name="South")
    team = TeamFactory(name="North")
    with pytest.raises(ValidationError) as taken:
        services.team_update(actor=admin, team=team, name="south", description="", members=[])
    assert "name" in taken.value.message_dict
    with pytest.raises(PermissionDenied):
        services.team_update(
            actor=UserFactory(), team=team, name="Renamed", description="", members=[]
        )
    assert Team.objects.get(pk=team.pk).name == "North"
    assert not AuditLogEntry.objects.filter(object_id=str(team.pk), action="update").exists()


def test_team_delete_records_the_team_and_keeps_its_members(admin) -> None:
    north = TeamFactory(name="North")
    rep = user_with(Scope.ALL, teams=[north])
    pk = north.pk
    services.team_delete(actor=admin, team=north)
    assert not Team.objects.filter(pk=pk).exists()
    rep = User.objects.get(pk=rep.pk)  # the member keeps their account, without the team
    assert list(rep.teams.all()) == []
    row = AuditLogEntry.objects.get(object_type="identity.team", object_id=str(pk))
    assert (row.action, row.changes["name"]) == ("delete", ["North", None])
    assert row.changes["members"] == [[rep.email], None]


def test_team_delete_is_for_administrators() -> None:
    team = TeamFactory(name="North")
    with pytest.raises(PermissionDenied):
        services.team_delete(actor=UserFactory(), team=team)
    assert Team.objects.filter(pk=team.pk).exists()


def test_role_delete_removes_an_unused_role_with_its_grants(admin) -> None:
    role = services.role_create(
        actor=admin,
        name="Support",
        grants=[
            services.GrantInput(
                object_type="customers.customer",
                actions=frozenset({"view", "edit"}),
                scope=Scope.TEAM,
            )
        ],
    )
    pk = role.pk
    services.role_delete(actor=admin, role=role)
    assert not Role.objects.filter(pk=pk).exists()
    row = AuditLogEntry.objects.get(object_type="identity.role", object_id=str(pk), action="delete")
    assert row.changes["name"] == ["Support", None]
    assert row.changes["grant:customers.customer"] == ["view, edit (team)", None]


def test_role_delete_refuses_while_someone_holds_the_role(admin) -> None:
    role = RoleFactory(name="Sales")
    UserFactory(role=role)
    with pytest.raises(ValidationError, match="1 user still has this role"):
        services.role_delete(actor=admin, role=role)
    with pytest.raises(PermissionDenied):
        services.role_delete(actor=User.objects.get(role=role), role=role)
    assert Role.objects.filter(pk=role.pk).exists()
    assert not AuditLogEntry.objects.filter(object_id=str(role.pk), action="delete").exists()
