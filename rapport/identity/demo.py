"""Demo users, teams and roles: an admin whose login `make run` prints, and one user per
typical role so record scope can be tried by logging in as each."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import transaction

from rapport.core.permissions import Scope
from rapport.identity.models import Role, RolePermission, Team, User

DEMO_ADMIN_EMAIL = "admin@example.com"

ROLE_PRESETS: dict[str, dict[str, Any]] = {
    "Administrator": {"is_admin": True, "description": "Everything, settings included."},
    "Sales manager": {
        "description": "Sees and edits the records of their teams; exports them.",
        "scope": Scope.TEAM,
        "actions": ["view", "create", "edit", "delete", "export"],
    },
    "Sales representative": {
        "description": "Sees and edits their own records.",
        "scope": Scope.OWN,
        "actions": ["view", "create", "edit"],
    },
    "Read-only": {
        "description": "Sees every record, changes none.",
        "scope": Scope.ALL,
        "actions": ["view"],
    },
}


def _demo_password() -> str:
    path = settings.VAR_DIR / "demo_admin_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


@transaction.atomic
def ensure_roles(object_types: list[str]) -> dict[str, Role]:
    roles = {}
    for name, preset in ROLE_PRESETS.items():
        role, _ = Role.objects.get_or_create(
            name=name,
            defaults={
                "is_admin": preset.get("is_admin", False),
                "description": preset["description"],
            },
        )
        roles[name] = role
        if role.is_admin:
            continue
        for object_type in object_types:
            RolePermission.objects.get_or_create(
                role=role,
                object_type=object_type,
                defaults={
                    "scope": preset["scope"],
                    **{f"can_{a}": True for a in preset["actions"]},
                },
            )
    return roles


def load(stdout: Any = None) -> str:
    from rapport.core import registry

    roles = ensure_roles([t.name for t in registry.object_types()])
    north, _ = Team.objects.get_or_create(name="North", defaults={"description": "Northern region"})
    south, _ = Team.objects.get_or_create(name="South", defaults={"description": "Southern region"})
    password = _demo_password()
    admin = User.objects.filter(email=DEMO_ADMIN_EMAIL).first()
    if admin is None:
        admin = User.objects.create_superuser(
            DEMO_ADMIN_EMAIL, password, full_name="Ada Admin", role=roles["Administrator"]
        )
    for email, name, role, team in [
        ("manager@example.com", "Max Manager", "Sales manager", north),
        ("rep@example.com", "Rita Rep", "Sales representative", north),
        ("viewer@example.com", "Vic Viewer", "Read-only", south),
    ]:
        if not User.objects.filter(email=email).exists():
            user = User.objects.create_user(email, password, full_name=name, role=roles[role])
            user.teams.add(team)
    return (
        f"Demo login: {DEMO_ADMIN_EMAIL} / {password}  "
        "(also manager@, rep@ and viewer@example.com with the same password)"
    )
