"""Who may give a customer to whom (`check_assignment`), and the derived pieces a write
keeps in step: the display name (`display_name_for`) and the tag set (`set_tags`)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.core.permissions import Scope
from rapport.customers import services
from rapport.customers.models import Customer, CustomerKind, CustomerTag, Tag
from rapport.customers.services import CustomerInput
from rapport.customers.tests.factories import organization, person
from rapport.identity.tests.factories import TeamFactory, UserFactory, user_with

pytestmark = pytest.mark.django_db


def test_all_scope_assigns_to_anyone_who_exists(scoped_users, teams) -> None:
    boss = scoped_users["all"]
    services.check_assignment(
        actor=boss, owner_id=UserFactory().pk, team_id=teams[1].pk, current=None
    )
    with pytest.raises(ValidationError) as missing:
        services.check_assignment(actor=boss, owner_id=999_999, team_id=None, current=None)
    assert "owner_id" in missing.value.message_dict


def test_team_scope_stays_within_its_teams(scoped_users, teams) -> None:
    north, south = teams
    manager = scoped_users["team"]
    colleague = UserFactory(teams=[north])
    services.check_assignment(actor=manager, owner_id=colleague.pk, team_id=north.pk, current=None)
    with pytest.raises(PermissionDenied, match="your own teams"):
        services.check_assignment(actor=manager, owner_id=None, team_id=south.pk, current=None)
    with pytest.raises(PermissionDenied, match="people in your teams"):
        services.check_assignment(
            actor=manager, owner_id=UserFactory(teams=[south]).pk, team_id=None, current=None
        )


def test_own_scope_keeps_records_with_themselves(scoped_users) -> None:
    rep = scoped_users["own"]
    services.check_assignment(actor=rep, owner_id=rep.pk, team_id=None, current=None)
    with pytest.raises(PermissionDenied, match="assigning records to others"):
        services.check_assignment(actor=rep, owner_id=UserFactory().pk, team_id=None, current=None)


def test_customer_create_refuses_an_assignment_the_rule_forbids(scoped_users) -> None:
    rep = scoped_users["own"]
    data = CustomerInput(kind="person", first_name="Ada", owner_id=UserFactory().pk)
    with pytest.raises(PermissionDenied):
        services.customer_create(actor=rep, data=data)
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"kind": CustomerKind.ORGANIZATION, "organization_name": "Acme"}, "Acme"),
        ({"kind": CustomerKind.ORGANIZATION}, "(unnamed organization)"),
        ({"first_name": "Ada", "last_name": "Lovelace"}, "Ada Lovelace"),
        ({"last_name": "Lovelace"}, "Lovelace"),
        ({"primary_email": "ada@example.com", "primary_phone": "+44"}, "ada@example.com"),
        ({"primary_phone": "+442079460000"}, "+442079460000"),
        ({}, "(unnamed person)"),
    ],
)
def test_display_name_for_falls_back_from_name_to_contact_points(fields, expected) -> None:
    customer = Customer(**{"kind": CustomerKind.PERSON, **fields})
    assert services.display_name_for(customer) == expected


def test_display_name_for_is_what_a_write_stores(admin) -> None:
    org = organization(admin, "Analytical Engines Ltd")
    nameless = person(admin, "", "", emails=["ada@example.com"])
    assert org.display_name == services.display_name_for(org) == "Analytical Engines Ltd"
    assert nameless.display_name == "ada@example.com"


def test_set_tags_makes_the_tag_set_exactly_the_names(admin) -> None:
    ada = person(admin, tags=["old", "keep"])
    Tag.objects.create(name="shared")
    assert services.set_tags(ada, [" Keep", "NEW", "shared", "new", ""]) == [
        "keep",
        "new",
        "shared",
    ]
    assert sorted(ada.tags.values_list("name", flat=True)) == ["keep", "new", "shared"]
    # Existing tags are reused, removed links are gone, and the old tag stays for others.
    assert Tag.objects.filter(name="shared").count() == 1
    assert Tag.objects.filter(name="old").exists()
    assert services.set_tags(ada, []) == []
    assert not CustomerTag.objects.filter(customer=ada).exists()


def test_team_scope_manager_in_no_team_cannot_assign_to_a_team() -> None:
    manager = user_with(Scope.TEAM)
    with pytest.raises(PermissionDenied):
        services.check_assignment(
            actor=manager, owner_id=None, team_id=TeamFactory().pk, current=None
        )
