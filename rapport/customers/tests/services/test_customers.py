"""customer_create and customer_update: per-field errors, custom values, lifecycle, versions."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.core.permissions import Scope
from rapport.customers import services
from rapport.customers.models import (
    Customer,
    CustomerTag,
    CustomFieldType,
    Interaction,
    InteractionKind,
    Tag,
)
from rapport.customers.services import CustomerInput, EmailInput, PhoneInput
from rapport.customers.tests.factories import person
from rapport.identity.tests.factories import TeamFactory, UserFactory, user_with

pytestmark = pytest.mark.django_db


def test_normalisation_errors_come_back_per_field(admin):
    data = CustomerInput(
        kind="person",
        first_name="Ada",
        birth_date="31/02/1990",
        emails=[EmailInput(email="ada@example.com"), EmailInput(email="not an email")],
        phones=[PhoneInput(number="12")],
        website="javascript:alert(1)",
    )
    with pytest.raises(ValidationError) as exc:
        services.customer_create(actor=admin, data=data)
    errors = exc.value.message_dict
    assert set(errors) >= {"birth_date", "emails.1.email", "phones.0.number", "website"}
    assert "emails.0.email" not in errors
    assert Customer.objects.count() == 0


def test_custom_field_values_are_validated_and_coerced(admin):
    services.custom_field_define(
        actor=admin, key="shoe_size", label="Shoe size", field_type=CustomFieldType.NUMBER
    )
    services.custom_field_define(
        actor=admin,
        key="colours",
        label="Colours",
        field_type="multi_choice",
        choices=["red", "blue"],
    )
    with pytest.raises(ValidationError) as exc:
        person(admin, custom_fields={"shoe_size": "big", "colours": ["green"], "nope": 1})
    assert set(exc.value.message_dict) == {
        "custom_fields.shoe_size",
        "custom_fields.colours",
        "custom_fields.nope",
    }
    c = person(admin, custom_fields={"shoe_size": "42", "colours": "blue; red"})
    assert c.custom_fields == {"shoe_size": 42, "colours": ["red", "blue"]}


def test_lifecycle_change_is_dated_and_on_the_timeline(admin):
    ada = person(admin, lifecycle_stage="lead")
    before = ada.lifecycle_changed_at
    ada = services.customer_update(
        actor=admin,
        customer=ada,
        data=CustomerInput(lifecycle_stage="customer"),
        expected_version=ada.version,
    )
    assert ada.lifecycle_changed_at > before
    entry = Interaction.objects.get(customer=ada, kind=InteractionKind.LIFECYCLE)
    assert entry.data == {"from": "lead", "to": "customer"}


def test_stale_version_is_refused(admin):
    from rapport.core.errors import Conflict

    ada = person(admin)
    services.customer_update(
        actor=admin,
        customer=ada,
        data=CustomerInput(job_title="Analyst"),
        expected_version=ada.version,
    )
    with pytest.raises(Conflict):
        services.customer_update(
            actor=admin,
            customer=ada,
            data=CustomerInput(job_title="Poet"),
            expected_version=ada.version,
        )
    ada.refresh_from_db()
    assert ada.job_title == "Analyst"


# --- Who may give a customer to whom (check_assignment), and its tags (set_tags) ---


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
