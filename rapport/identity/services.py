"""Identity writes: profile and password, two-factor, API keys, and the settings pages'
users, teams and roles. Every function is one transaction and writes its audit row."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from rapport.core import audit, registry
from rapport.core.models import AuditAction
from rapport.core.permissions import ACTIONS, Scope
from rapport.identity.models import ApiKey, Role, RolePermission, Team, User

BACKUP_CODE_COUNT = 10
API_KEY_ACCESS = ("read", "write")


def _security(actor: Any, obj: Any, event: str, **details: Any) -> None:
    """A security audit row: `event` plus any details, in the before/after shape."""
    changes: dict[str, Any] = {"event": [None, event]}
    changes.update({name: [None, value] for name, value in details.items()})
    audit.record(actor=actor, action=AuditAction.SECURITY, obj=obj, changes=changes)


def _require_admin(actor: User) -> None:
    if not actor.is_authenticated or not actor.is_admin:
        raise PermissionDenied("Only administrators may manage users, teams and roles.")


def _rate(rate: str) -> tuple[int, int]:
    """'3/h' -> (3, 3600); the django-ratelimit syntax the settings use."""
    count, _, period = rate.partition("/")
    unit = period[-1:] or "m"
    multiple = int(period[:-1]) if period[:-1] else 1
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    return int(count), multiple * seconds


# --- Logins -------------------------------------------------------------------------


@transaction.atomic
def login_recorded(*, user: User, two_factor: bool) -> None:
    """A successful login, for the audit log (failed ones are django-axes' records)."""
    audit.record(
        actor=user,
        action=AuditAction.LOGIN,
        obj=user,
        changes={"two_factor": [None, two_factor]},
    )


def _end_sessions(user: User) -> None:
    """Every session of `user` ends at its next request (the session hash includes
    `session_version`); a view keeps its own with `update_session_auth_hash`."""
    User.objects.filter(pk=user.pk).update(session_version=F("session_version") + 1)
    user.refresh_from_db(fields=["session_version"])


@transaction.atomic
def sessions_end_others(*, actor: User) -> None:
    """ "Log out everywhere else": the caller keeps its session with update_session_auth_hash."""
    _end_sessions(actor)
    _security(actor, actor, "sessions_ended")


# --- Profile and password -----------------------------------------------------------


@transaction.atomic
def profile_update(*, actor: User, full_name: str) -> User:
    """With `profile_locale_set`, the only fields a user may change about themselves (role,
    teams, flags: admins)."""
    before = audit.snapshot(actor, ["full_name"])
    actor.full_name = full_name.strip()
    actor.save(update_fields=["full_name"])
    changes = audit.diff(before, audit.snapshot(actor, ["full_name"]))
    if changes:
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=actor, changes=changes)
    return actor


@transaction.atomic
def profile_locale_set(*, actor: User, locale: str) -> User:
    """The user's own date and number formats: a code from settings.LANGUAGES, or blank
    for the browser's (Accept-Language)."""
    if locale and locale not in dict(settings.LANGUAGES):
        raise ValidationError({"locale": "Choose one of the listed formats."})
    before = audit.snapshot(actor, ["locale"])
    actor.locale = locale
    actor.save(update_fields=["locale"])
    changes = audit.diff(before, audit.snapshot(actor, ["locale"]))
    if changes:
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=actor, changes=changes)
    return actor


@transaction.atomic
def password_change(*, actor: Any, user: User, new_password: str, event: str) -> User:
    """Set `user`'s password. The session hash follows the password, so every other
    session of the user ends at its next request; the caller keeps its own with
    `update_session_auth_hash`."""
    password_validation.validate_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    _security(actor, user, event)
    return user


# --- Password reset -----------------------------------------------------------------


def _email_cap_reached(email: str) -> bool:
    """Count one reset request for `email`; True once the address has had its share."""
    limit, window = _rate(settings.RATELIMIT_PASSWORD_RESET_PER_EMAIL)
    digest = hashlib.sha256(email.encode()).hexdigest()
    bucket = int(timezone.now().timestamp() // window)
    key = f"rapport:pwreset:{digest}:{bucket}"
    cache.add(key, 0, window)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        used = 1
    return used > limit


@transaction.atomic
def password_reset_request(*, email: str) -> bool:
    """Queue a reset e-mail for an active account at `email`, at most
    RATELIMIT_PASSWORD_RESET_PER_EMAIL per address. Returns whether one was queued; the
    requester is never told (the page is the same either way: no account enumeration)."""
    from rapport.identity.tasks import send_password_email

    email = email.strip().lower()
    if _email_cap_reached(email):
        return False
    user = User.objects.filter(email=email, is_active=True).first()
    if user is None:
        return False
    _security(None, user, "password_reset_requested")
    send_password_email.enqueue(user.pk, "reset")
    return True


# --- Two-factor ---------------------------------------------------------------------


def two_factor_start(*, actor: User) -> TOTPDevice:
    """A new, unconfirmed authenticator for `actor` (replacing an unfinished one)."""
    if TOTPDevice.objects.filter(user=actor, confirmed=True).exists():
        raise ValidationError("Two-factor login is already on. Turn it off first to replace it.")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=actor, confirmed=False).delete()
        return TOTPDevice.objects.create(user=actor, name="Authenticator app", confirmed=False)


def _new_backup_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


def _verify_any(user: User, token: str) -> Any:
    """The confirmed device (authenticator or backup codes) that accepts `token`."""
    from django_otp import devices_for_user

    token = token.replace(" ", "").strip()
    for device in devices_for_user(user, confirmed=True):
        if device.verify_token(token):
            return device
    return None


def two_factor_confirm(*, actor: User, token: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending authenticator with a code it shows; returns it and the backup
    codes (shown once)."""
    device = TOTPDevice.objects.filter(user=actor, confirmed=False).first()
    if device is None:
        raise ValidationError("Start the set-up again: no authenticator is waiting for a code.")
    # Outside the write transaction: a wrong code must still count towards the throttle.
    if not device.verify_token(token.replace(" ", "").strip()):
        raise ValidationError({"token": "That code is not valid. Enter the current one."})
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _new_backup_codes(actor)
        # Sessions opened with the password alone must not outlive the new second factor.
        _end_sessions(actor)
        _security(actor, actor, "two_factor_enabled")
    return device, codes


def two_factor_backup_codes_renew(*, actor: User, token: str) -> list[str]:
    """Ten fresh backup codes (the old ones stop working), after a current code."""
    if not TOTPDevice.objects.filter(user=actor, confirmed=True).exists():
        raise ValidationError("Turn on two-factor login first.")
    if _verify_any(actor, token) is None:
        raise ValidationError({"token": "That code is not valid."})
    with transaction.atomic():
        codes = _new_backup_codes(actor)
        _security(actor, actor, "backup_codes_renewed")
    return codes


def two_factor_disable(*, actor: User, token: str) -> None:
    """Turn two-factor off, proving possession with a current code; refused when the
    user's role requires it."""
    if actor.requires_two_factor:
        raise PermissionDenied("Your role requires two-factor login; it cannot be turned off.")
    if _verify_any(actor, token) is None:
        raise ValidationError({"token": "That code is not valid."})
    with transaction.atomic():
        TOTPDevice.objects.filter(user=actor).delete()
        StaticDevice.objects.filter(user=actor).delete()
        _end_sessions(actor)
        _security(actor, actor, "two_factor_disabled")


@transaction.atomic
def two_factor_reset(*, actor: User, user: User) -> None:
    """An administrator removes a user's authenticator (a lost phone); the user enrols
    again at the next login when their role requires it."""
    _require_admin(actor)
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    _end_sessions(user)  # the lost phone may be in someone else's hands, logged in
    _security(actor, user, "two_factor_reset")


# --- API keys -----------------------------------------------------------------------


def api_key_scope_choices() -> list[str]:
    return [
        f"{t.name}:{access}" for t in registry.api_key_object_types() for access in API_KEY_ACCESS
    ]


@transaction.atomic
def api_key_create(
    *, actor: User, name: str, scopes: Sequence[str], expires_at: dt.datetime | None = None
) -> tuple[ApiKey, str]:
    """A key for `actor`; returns it and the raw key, which is shown once and never stored."""
    name = name.strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Give the key a name that says where it is used."
    unknown = sorted(set(scopes) - set(api_key_scope_choices()))
    if unknown:
        errors["scopes"] = f"Unknown scope: {', '.join(unknown)}."
    elif not scopes:
        errors["scopes"] = "Choose at least one object type the key may read or write."
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = "The expiry must be in the future."
    if errors:
        raise ValidationError(errors)
    raw, prefix, key_hash = ApiKey.generate()
    key = ApiKey.objects.create(
        user=actor,
        name=name,
        prefix=prefix,
        key_hash=key_hash,
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    # Never the hash: the audit log is readable by admins and must not help guess keys.
    shown = audit.snapshot(key, ["name", "prefix", "scopes", "expires_at"])
    audit.record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=key,
        changes={k: [None, v] for k, v in shown.items() if v is not None},
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, actor: User, key: ApiKey) -> ApiKey:
    """Revoke `key` (its owner or an administrator). Revoking twice changes nothing."""
    if key.user_id != actor.pk and not actor.is_admin:
        raise PermissionDenied("You may revoke only your own API keys.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        _security(actor, key, "api_key_revoked", owner=key.user_id)
    return key


# --- Users (administrators) ---------------------------------------------------------


def _user_state(user: User) -> dict[str, Any]:
    state = audit.snapshot(user, ["email", "full_name", "role_id", "is_active"])
    state["teams"] = sorted(user.teams.values_list("name", flat=True))
    return state


@transaction.atomic
def user_create(
    *,
    actor: User,
    email: str,
    full_name: str,
    role: Role | None,
    teams: Iterable[Team],
    password: str | None = None,
) -> User:
    """A new user: with a temporary password, or (password None) with an e-mailed link to
    set one. Only administrators create users; nobody becomes staff or superuser here."""
    _require_admin(actor)
    email = email.strip().lower()
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": "A user with this e-mail address already exists."})
    user = User(email=email, full_name=full_name.strip(), role=role)
    if password:
        password_validation.validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    user.teams.set(list(teams))
    audit.record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=user,
        changes={k: [None, v] for k, v in _user_state(user).items() if v not in (None, "", [])},
    )
    if not password:
        from rapport.identity.tasks import send_password_email

        send_password_email.enqueue(user.pk, "invite")
    return user


@transaction.atomic
def user_update(
    *,
    actor: User,
    user: User,
    full_name: str,
    role: Role | None,
    teams: Iterable[Team],
    is_active: bool,
) -> User:
    """Change a user's name, role, teams or status. Deactivating ends their sessions (the
    auth backend refuses inactive users) and revokes their API keys."""
    _require_admin(actor)
    if user.pk == actor.pk:
        if not is_active:
            raise ValidationError({"is_active": "You cannot deactivate yourself."})
        if not actor.is_superuser and not (role is not None and role.is_admin):
            raise ValidationError(
                {"role": "You cannot remove your own administrator rights. Ask another admin."}
            )
    before = _user_state(user)
    was_active = user.is_active
    user.full_name = full_name.strip()
    user.role = role
    user.is_active = is_active
    user.save(update_fields=["full_name", "role", "is_active"])
    user.teams.set(list(teams))
    changes = audit.diff(before, _user_state(user))
    if changes:
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=user, changes=changes)
    if was_active and not is_active:
        _end_sessions(user)
        revoked = ApiKey.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        _security(actor, user, "user_deactivated", api_keys_revoked=revoked)
    return user


def user_unlock(*, actor: User, user: User) -> int:
    """Lift a brute-force lockout on `user`'s e-mail (all addresses); returns attempts cleared."""
    from axes.utils import reset

    _require_admin(actor)
    with transaction.atomic():
        cleared = reset(username=user.email)
        _security(actor, user, "lockout_cleared", attempts=cleared)
    return cleared


@transaction.atomic
def user_send_password_link(*, actor: User, user: User) -> None:
    """E-mail `user` a link to set a new password (an administrator's help for a user)."""
    from rapport.identity.tasks import send_password_email

    _require_admin(actor)
    if not user.is_active:
        raise ValidationError("Activate the user first: links do not work for inactive users.")
    send_password_email.enqueue(user.pk, "invite")
    _security(actor, user, "password_link_sent")


# --- Teams (administrators) ---------------------------------------------------------


def _team_state(team: Team) -> dict[str, Any]:
    state = audit.snapshot(team, ["name", "description"])
    state["members"] = sorted(team.members.values_list("email", flat=True))
    return state


def _check_team_name(name: str, exclude: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A team needs a name."})
    clash = Team.objects.filter(name__iexact=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationError({"name": "Another team already has this name."})
    return name


@transaction.atomic
def team_create(
    *, actor: User, name: str, description: str = "", members: Iterable[User] = ()
) -> Team:
    _require_admin(actor)
    team = Team.objects.create(name=_check_team_name(name), description=description.strip())
    team.members.set(list(members))
    audit.record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=team,
        changes={k: [None, v] for k, v in _team_state(team).items() if v not in (None, "", [])},
    )
    return team


@transaction.atomic
def team_update(
    *, actor: User, team: Team, name: str, description: str, members: Iterable[User]
) -> Team:
    _require_admin(actor)
    before = _team_state(team)
    team.name = _check_team_name(name, exclude=team.pk)
    team.description = description.strip()
    team.save(update_fields=["name", "description"])
    team.members.set(list(members))
    changes = audit.diff(before, _team_state(team))
    if changes:
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=team, changes=changes)
    return team


@transaction.atomic
def team_delete(*, actor: User, team: Team) -> None:
    """Delete a team; its records keep their owner and lose the team (SET NULL)."""
    _require_admin(actor)
    before = _team_state(team)
    audit.record_deleted(actor=actor, obj=team, before=before)
    team.delete()


# --- Roles (administrators) ---------------------------------------------------------


@dataclass(frozen=True)
class GrantInput:
    """One row of the permission matrix."""

    object_type: str
    actions: frozenset[str]
    scope: Scope


def _grant_label(actions: Iterable[str], scope: str) -> str:
    chosen = [a for a in ACTIONS if a in set(actions)]
    return f"{', '.join(chosen)} ({scope})" if chosen else ""


def _role_state(role: Role) -> dict[str, Any]:
    state = audit.snapshot(role, ["name", "description", "is_admin", "requires_two_factor"])
    for perm in role.permissions.all():
        label = _grant_label([a for a in ACTIONS if getattr(perm, f"can_{a}")], perm.scope)
        if label:
            state[f"grant:{perm.object_type}"] = label
    return state


def _check_role(name: str, grants: Sequence[GrantInput], exclude: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A role needs a name."})
    clash = Role.objects.filter(name__iexact=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationError({"name": "Another role already has this name."})
    known = {t.name for t in registry.object_types()}
    for grant in grants:
        if grant.object_type not in known:
            raise ValidationError(f"Unknown object type: {grant.object_type}.")
        if not grant.actions <= set(ACTIONS):
            raise ValidationError(f"Unknown action for {grant.object_type}.")
    return name


def _write_grants(role: Role, grants: Sequence[GrantInput]) -> None:
    RolePermission.objects.filter(role=role).delete()
    RolePermission.objects.bulk_create(
        [
            RolePermission(
                role=role,
                object_type=g.object_type,
                scope=g.scope,
                **{f"can_{a}": a in g.actions for a in ACTIONS},
            )
            for g in grants
            if g.actions
        ]
    )


@transaction.atomic
def role_create(
    *,
    actor: User,
    name: str,
    description: str = "",
    is_admin: bool = False,
    requires_two_factor: bool = False,
    grants: Sequence[GrantInput] = (),
) -> Role:
    _require_admin(actor)
    role = Role.objects.create(
        name=_check_role(name, grants),
        description=description.strip(),
        is_admin=is_admin,
        requires_two_factor=requires_two_factor,
    )
    _write_grants(role, grants)
    audit.record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=role,
        changes={k: [None, v] for k, v in _role_state(role).items() if v not in (None, "", False)},
    )
    return role


@transaction.atomic
def role_update(
    *,
    actor: User,
    role: Role,
    name: str,
    description: str,
    is_admin: bool,
    requires_two_factor: bool,
    grants: Sequence[GrantInput],
) -> Role:
    _require_admin(actor)
    if role.pk == actor.role_id and role.is_admin and not is_admin and not actor.is_superuser:
        raise ValidationError(
            {"is_admin": "You cannot remove administrator rights from your own role."}
        )
    before = _role_state(role)
    role.name = _check_role(name, grants, exclude=role.pk)
    role.description = description.strip()
    role.is_admin = is_admin
    role.requires_two_factor = requires_two_factor
    role.save(update_fields=["name", "description", "is_admin", "requires_two_factor"])
    _write_grants(role, grants)
    changes = audit.diff(before, _role_state(role))
    if changes:
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=role, changes=changes)
    return role


@transaction.atomic
def role_delete(*, actor: User, role: Role) -> None:
    """Delete a role nobody holds (move its users first, so nobody silently loses access)."""
    _require_admin(actor)
    holders = User.objects.filter(role=role).count()
    if holders:
        raise ValidationError(
            f"{holders} user{'s' if holders != 1 else ''} still "
            f"{'have' if holders != 1 else 'has'} this role. Give them another role first."
        )
    audit.record_deleted(actor=actor, obj=role, before=_role_state(role))
    role.delete()
