"""Identity services called directly: administrator checks before any write, audit rows,
and the rules an interface cannot bypass."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_otp.plugins.otp_totp.models import TOTPDevice

from rapport.core.models import AuditLogEntry
from rapport.core.permissions import Scope
from rapport.identity import services
from rapport.identity.models import Role, Team, User
from rapport.identity.tests.conftest import code_for, enrol
from rapport.identity.tests.factories import RoleFactory, UserFactory, api_key_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "call",
    [
        lambda a: services.team_create(actor=a, name="T"),
        lambda a: services.role_create(actor=a, name="R", is_admin=True),
        lambda a: services.user_create(
            actor=a, email="x@example.com", full_name="", role=None, teams=[]
        ),
        lambda a: services.user_update(
            actor=a, user=a, full_name="", role=RoleFactory(is_admin=True), teams=[], is_active=True
        ),
        lambda a: services.two_factor_reset(actor=a, user=UserFactory()),
        lambda a: services.user_unlock(actor=a, user=UserFactory()),
    ],
)
def test_non_admins_are_refused_before_anything_is_written(call):
    actor = UserFactory(role=RoleFactory())
    audit_before = AuditLogEntry.objects.count()
    with pytest.raises(PermissionDenied):
        call(actor)
    actor.refresh_from_db()
    assert not actor.role.is_admin
    assert not Team.objects.filter(name="T").exists()
    assert not Role.objects.filter(name="R").exists()
    assert not User.objects.filter(email="x@example.com").exists()
    assert AuditLogEntry.objects.count() == audit_before


def test_superuser_may_drop_the_admin_flag_of_their_role():
    role = RoleFactory(is_admin=True)
    superuser = UserFactory(role=role, is_superuser=True)
    services.role_update(
        actor=superuser,
        role=role,
        name=role.name,
        description="",
        is_admin=False,
        requires_two_factor=False,
        grants=[],
    )
    role.refresh_from_db()
    assert not role.is_admin
    assert superuser.is_admin  # still, as a superuser


def test_role_grants_for_unknown_object_types_are_refused():
    admin = UserFactory(role=RoleFactory(is_admin=True))
    with pytest.raises(ValidationError):
        services.role_create(
            actor=admin,
            name="Odd",
            grants=[
                services.GrantInput(
                    object_type="identity.user", actions=frozenset({"view"}), scope=Scope.ALL
                )
            ],
        )
    assert not Role.objects.filter(name="Odd").exists()


def test_revoking_twice_writes_one_audit_row():
    user = UserFactory()
    key, _ = api_key_for(user, ["customers.customer:read"])
    services.api_key_revoke(actor=user, key=key)
    first = key.revoked_at
    services.api_key_revoke(actor=user, key=key)
    assert key.revoked_at == first
    assert AuditLogEntry.objects.filter(changes__event=[None, "api_key_revoked"]).count() == 1


def test_two_factor_cannot_be_set_up_twice():
    user = UserFactory()
    enrol(user)
    with pytest.raises(ValidationError):
        services.two_factor_start(actor=user)


def test_admin_resets_a_lost_authenticator():
    admin = UserFactory(role=RoleFactory(is_admin=True))
    user = UserFactory()
    device = enrol(user)
    assert code_for(device)
    services.two_factor_reset(actor=admin, user=user)
    assert not TOTPDevice.objects.filter(user=user).exists()
    row = AuditLogEntry.objects.get(changes__event=[None, "two_factor_reset"])
    assert row.actor_id == admin.pk and row.object_id == str(user.pk)


def test_reset_request_counts_per_address_whatever_the_case(settings, immediate_tasks):
    settings.RATELIMIT_PASSWORD_RESET_PER_EMAIL = "1/h"
    UserFactory(email="ann@example.com")
    assert services.password_reset_request(email="ann@example.com") is True
    assert services.password_reset_request(email=" ANN@example.com") is False
