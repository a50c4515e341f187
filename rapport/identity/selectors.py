"""Identity reads: the caller's own keys and 2FA state, and the administrators' lists."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, QuerySet
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from rapport.identity.models import ApiKey, Role, RolePermission, Team, User


def _require_admin(actor: User) -> None:
    if not actor.is_authenticated or not actor.is_admin:
        raise PermissionDenied("Only administrators may see the settings.")


@dataclass(frozen=True)
class TwoFactorStatus:
    enabled: bool
    required: bool
    backup_codes_left: int
    pending: TOTPDevice | None


def two_factor_status(*, actor: User) -> TwoFactorStatus:
    devices = list(TOTPDevice.objects.filter(user=actor))
    confirmed = any(d.confirmed for d in devices)
    return TwoFactorStatus(
        enabled=confirmed,
        required=actor.requires_two_factor,
        backup_codes_left=StaticToken.objects.filter(device__user=actor).count()
        if confirmed
        else 0,
        pending=None if confirmed else next((d for d in devices if not d.confirmed), None),
    )


def api_keys_of(*, actor: User, owner: User) -> QuerySet[ApiKey]:
    """`owner`'s keys: for `owner` themself or an administrator."""
    if owner.pk != actor.pk and not actor.is_admin:
        raise PermissionDenied("You may see only your own API keys.")
    return ApiKey.objects.filter(user=owner).order_by("-created_at", "-id")


def api_key_for(*, actor: User, key_id: int) -> ApiKey:
    """A key `actor` may manage (own, or anyone's for an administrator); 404s otherwise."""
    keys = ApiKey.objects.select_related("user")
    if not actor.is_admin:
        keys = keys.filter(user=actor)
    return keys.get(pk=key_id)


def users_for_settings(*, actor: User, query: str = "") -> QuerySet[User]:
    _require_admin(actor)
    users = User.objects.select_related("role").prefetch_related(
        Prefetch("teams", queryset=Team.objects.order_by("name"))
    )
    query = query.strip()
    if query:
        users = users.filter(Q(email__icontains=query) | Q(full_name__icontains=query))
    return users.order_by("email")


def user_for_settings(*, actor: User, user_id: int) -> User:
    _require_admin(actor)
    return User.objects.select_related("role").get(pk=user_id)


def teams_for_settings(*, actor: User) -> QuerySet[Team]:
    _require_admin(actor)
    return Team.objects.annotate(member_count=Count("members")).order_by("name")


def team_for_settings(*, actor: User, team_id: int) -> Team:
    _require_admin(actor)
    return Team.objects.get(pk=team_id)


def roles_for_settings(*, actor: User) -> QuerySet[Role]:
    _require_admin(actor)
    return (
        Role.objects.annotate(user_count=Count("user", distinct=True))
        .prefetch_related(Prefetch("permissions", queryset=RolePermission.objects.all()))
        .order_by("name")
    )


def role_for_settings(*, actor: User, role_id: int) -> Role:
    _require_admin(actor)
    return Role.objects.prefetch_related("permissions").get(pk=role_id)


def assignee_choices() -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The (id, name) of the active users and of the teams a record can be assigned to,
    for other apps' filters and forms (which do not import identity's models)."""
    owners = [
        (u.pk, str(u)) for u in User.objects.filter(is_active=True).order_by("full_name")[:500]
    ]
    teams = [(t.pk, t.name) for t in Team.objects.order_by("name")]
    return owners, teams


def assignee_name(*, field: str, pk: int) -> str | None:
    """The name of the owner (`field` "owner_id") or team ("team_id") `pk`, None if gone."""
    model: type[User] | type[Team] = User if field == "owner_id" else Team
    found = model.objects.filter(pk=pk).first()
    return str(found) if found else None
