"""What users do to their own account, called directly: logins on record
(`login_recorded`), "log out everywhere else" (`sessions_end_others`), name and formats
(`profile_update`, `profile_locale_set`), password (`password_change`), backup codes
(`two_factor_backup_codes_renew`) and turning two-factor off (`two_factor_disable`); and
an administrator's password link (`user_send_password_link`)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from rapport.core.models import AuditLogEntry
from rapport.identity import services
from rapport.identity.models import User
from rapport.identity.tests.conftest import code_for, enrol, login_as
from rapport.identity.tests.factories import PASSWORD, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db


def _rows(user: User, action: str) -> list[AuditLogEntry]:
    return list(
        AuditLogEntry.objects.filter(
            object_type="identity.user", object_id=str(user.pk), action=action
        ).order_by("id")
    )


def _events(user: User) -> list[str]:
    return [r.changes["event"][1] for r in _rows(user, "security")]


def _signed_in(client: Client) -> bool:
    return client.get(reverse("identity:profile")).status_code == 200


def test_login_recorded_writes_a_login_row() -> None:
    user = UserFactory()
    services.login_recorded(user=user, two_factor=True)
    [row] = _rows(user, "login")
    assert (row.actor_id, row.changes) == (user.pk, {"two_factor": [None, True]})


def test_sessions_end_others_signs_out_every_other_session() -> None:
    user = UserFactory()
    elsewhere = login_as(Client(), user)
    assert _signed_in(elsewhere)
    services.sessions_end_others(actor=user)
    assert not _signed_in(elsewhere)
    assert User.objects.get(pk=user.pk).session_version == 1
    assert _events(user) == ["sessions_ended"]


def test_profile_update_changes_the_name_and_records_only_a_change() -> None:
    user = UserFactory(full_name="Ada")
    services.profile_update(actor=user, full_name="  Ada Lovelace ")
    assert User.objects.get(pk=user.pk).full_name == "Ada Lovelace"
    services.profile_update(actor=user, full_name="Ada Lovelace")
    [row] = _rows(user, "update")
    assert row.changes == {"full_name": ["Ada", "Ada Lovelace"]}


def test_profile_locale_set_takes_a_listed_format_or_the_browsers() -> None:
    user = UserFactory()
    services.profile_locale_set(actor=user, locale="de")
    assert User.objects.get(pk=user.pk).locale == "de"
    with pytest.raises(ValidationError) as refused:
        services.profile_locale_set(actor=user, locale="xx-yy")
    assert "locale" in refused.value.message_dict
    services.profile_locale_set(actor=user, locale="")  # back to Accept-Language
    assert User.objects.get(pk=user.pk).locale == ""
    assert [r.changes["locale"] for r in _rows(user, "update")] == [["", "de"], ["de", ""]]


def test_password_change_sets_it_records_it_and_ends_other_sessions() -> None:
    user = UserFactory()
    elsewhere = login_as(Client(), user)
    services.password_change(
        actor=user, user=user, new_password="a much longer passphrase 42", event="password_changed"
    )
    user.refresh_from_db()
    assert user.check_password("a much longer passphrase 42")
    assert not _signed_in(elsewhere)
    assert _events(user) == ["password_changed"]


def test_password_change_refuses_a_weak_password() -> None:
    user = UserFactory()
    with pytest.raises(ValidationError):
        services.password_change(actor=user, user=user, new_password="password", event="x")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert _events(user) == []


def test_backup_codes_renew_replaces_the_old_codes(no_otp_throttle) -> None:
    user = UserFactory()
    device = enrol(user)
    first = services.two_factor_backup_codes_renew(actor=user, token=code_for(device))
    assert len(first) == services.BACKUP_CODE_COUNT == len(set(first))
    # A backup code proves possession too; the old set stops working.
    second = services.two_factor_backup_codes_renew(actor=user, token=first[0])
    assert set(second).isdisjoint(first)
    assert set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True)) == (
        set(second)
    )
    assert _events(user) == ["backup_codes_renewed", "backup_codes_renewed"]


def test_backup_codes_renew_needs_two_factor_and_a_valid_code(no_otp_throttle) -> None:
    user = UserFactory()
    with pytest.raises(ValidationError, match="Turn on two-factor"):
        services.two_factor_backup_codes_renew(actor=user, token="123456")
    enrol(user)
    with pytest.raises(ValidationError) as refused:
        services.two_factor_backup_codes_renew(actor=user, token="000000")
    assert "token" in refused.value.message_dict
    assert not StaticToken.objects.filter(device__user=user).exists()


def test_user_send_password_link_mails_the_user(
    immediate_tasks, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    admin = UserFactory(is_superuser=True)
    user = UserFactory(email="grace@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.user_send_password_link(actor=admin, user=user)
    [mail] = mailoutbox
    assert mail.to == ["grace@example.com"]
    assert "/password-reset/" in mail.body
    [row] = _rows(user, "security")
    assert (row.actor_id, row.changes["event"]) == (admin.pk, [None, "password_link_sent"])


def test_user_send_password_link_is_refused_for_non_admins_and_inactive_users(
    immediate_tasks, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    admin = UserFactory(is_superuser=True)
    clerk = UserFactory(role=RoleFactory())
    gone = UserFactory(is_active=False)
    stranger = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(PermissionDenied):
            services.user_send_password_link(actor=clerk, user=stranger)
        with pytest.raises(ValidationError, match="Activate the user first"):
            services.user_send_password_link(actor=admin, user=gone)
    assert mailoutbox == []
    assert not AuditLogEntry.objects.filter(action="security").exists()


def test_two_factor_disable_removes_every_device_and_ends_sessions(no_otp_throttle) -> None:
    user = UserFactory()
    device = enrol(user)
    services.two_factor_backup_codes_renew(actor=user, token=code_for(device))
    elsewhere = login_as(Client(), user)
    with pytest.raises(ValidationError):
        services.two_factor_disable(actor=user, token="000000")
    assert TOTPDevice.objects.filter(user=user).exists()
    services.two_factor_disable(actor=user, token=code_for(device, drift=1))
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    assert not _signed_in(elsewhere)
    assert _events(user)[-1] == "two_factor_disabled"


def test_two_factor_disable_is_refused_when_the_role_requires_it(no_otp_throttle) -> None:
    user = UserFactory(role=RoleFactory(requires_two_factor=True))
    device = enrol(user)
    with pytest.raises(PermissionDenied):
        services.two_factor_disable(actor=user, token=code_for(device))
    assert TOTPDevice.objects.filter(user=user).exists()
    assert "two_factor_disabled" not in _events(user)
