"""Users, teams, roles with per-object-type grants, and API keys."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from rapport.core.permissions import ACTIONS, FULL_GRANT, NO_GRANT, Grant, Scope


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.Model):
    """A set of grants. `is_admin` grants everything, settings included."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=255, blank=True)
    is_admin = models.BooleanField(default=False)
    requires_two_factor = models.BooleanField(
        default=False, help_text="Users with this role must set up and use two-factor login."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RolePermission(models.Model):
    role = models.ForeignKey(
        Role, on_delete=models.CASCADE, related_name="permissions", db_index=False
    )
    object_type = models.CharField(max_length=100)
    can_view = models.BooleanField(default=False)
    can_create = models.BooleanField(default=False)
    can_edit = models.BooleanField(default=False)
    can_delete = models.BooleanField(default=False)
    can_export = models.BooleanField(default=False)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.OWN)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["role", "object_type"], name="role_object_type_unique")
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.object_type}"

    def as_grant(self) -> Grant:
        return Grant(
            actions=frozenset(a for a in ACTIONS if getattr(self, f"can_{a}")),
            scope=Scope(self.scope),
        )


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("A user needs an e-mail address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in, by e-mail and password (argon2), optionally with TOTP."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="May open the Django admin (superusers only use it)."
    )
    date_joined = models.DateTimeField(default=timezone.now)
    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.SET_NULL)
    teams = models.ManyToManyField(Team, blank=True, related_name="members")
    session_version = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Bumped to end every session of the user (2FA changes, log out everywhere).",
    )
    # A code from settings.LANGUAGES (checked by the service, so the list can change
    # without a migration); blank: the browser's Accept-Language decides.
    locale = models.CharField(
        max_length=16, blank=True, help_text="Date and number formats; blank: the browser's."
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django signs sessions with an HMAC of the password hash, so a password change ends
        # every other session. Adding `session_version` lets two-factor changes and "log out
        # everywhere" end them too, without touching the password.
        return salted_hmac(
            "rapport.identity.User.session_auth_hash",
            f"{self.password}:{self.session_version}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    # API key the current request came with; narrows the grants (set per request only).
    api_key: ApiKey | None = None

    @property
    def is_admin(self) -> bool:
        return self.is_superuser or (self.role is not None and self.role.is_admin)

    def _grants(self) -> dict[str, Grant]:
        cached: dict[str, Grant] | None = getattr(self, "_grant_cache", None)
        if cached is None:
            cached = {}
            if self.role_id is not None:
                for perm in RolePermission.objects.filter(role_id=self.role_id):
                    cached[perm.object_type] = perm.as_grant()
            self._grant_cache = cached
        return cached

    def grant_for(self, object_type: str) -> Grant:
        if not self.is_active:
            return NO_GRANT
        grant = FULL_GRANT if self.is_admin else self._grants().get(object_type, NO_GRANT)
        if self.api_key is not None:
            grant = self.api_key.narrow(object_type, grant)
        return grant

    def team_ids(self) -> frozenset[int]:
        cached: frozenset[int] | None = getattr(self, "_team_ids_cache", None)
        if cached is None:
            cached = frozenset(self.teams.values_list("id", flat=True))
            self._team_ids_cache = cached
        return cached

    @property
    def requires_two_factor(self) -> bool:
        return self.role is not None and self.role.requires_two_factor


API_KEY_PREFIX = "rk_"


def hash_api_key(raw: str) -> str:
    # API keys carry 256 random bits, so a fast hash is safe (no dictionary to try) and
    # lets every API request verify its key in microseconds.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def usable(self) -> ApiKeyQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True, user__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(models.Model):
    """A machine credential acting as its user, narrowed to read/write scopes per type.

    Only a SHA-256 of the key is stored; the key itself is shown once, at creation.
    Scopes are strings like "customers.person:read" or "customers.person:write";
    "*:read" and "*:write" cover every object type.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def generate() -> tuple[str, str, str]:
        """A new raw key, its display prefix and its hash."""
        raw = API_KEY_PREFIX + secrets.token_urlsafe(32)
        return raw, raw[:10], hash_api_key(raw)

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )

    def narrow(self, object_type: str, grant: Grant) -> Grant:
        scopes = set(self.scopes)
        allowed: set[str] = set()
        if {f"{object_type}:read", "*:read", f"{object_type}:write", "*:write"} & scopes:
            allowed.add("view")
        if {f"{object_type}:write", "*:write"} & scopes:
            allowed |= {"create", "edit", "delete"}
        return Grant(actions=grant.actions & frozenset(allowed), scope=grant.scope)
