"""Factories for users, teams, roles and API keys."""

from __future__ import annotations

from typing import Any

import factory

from rapport.core.permissions import ACTIONS, Scope
from rapport.identity.models import ApiKey, Role, RolePermission, Team, User

PASSWORD = "correct horse battery staple"


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role

    name = factory.Sequence(lambda n: f"Role {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            self.save()

    @factory.post_generation
    def teams(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.teams.set(extracted)


def role_with(
    scope: Scope | str,
    actions: tuple[str, ...] = ACTIONS,
    object_types: tuple[str, ...] = ("customers.customer",),
    **role_fields: Any,
) -> Role:
    role = RoleFactory(**role_fields)
    for object_type in object_types:
        RolePermission.objects.create(
            role=role,
            object_type=object_type,
            scope=scope,
            **{f"can_{a}": a in actions for a in ACTIONS},
        )
    return role


def user_with(
    scope: Scope | str,
    actions: tuple[str, ...] = ACTIONS,
    teams: list[Team] | None = None,
    object_types: tuple[str, ...] = ("customers.customer",),
    **user_fields: Any,
) -> User:
    role = role_with(scope, actions, object_types)
    return UserFactory(role=role, teams=teams or [], **user_fields)


def api_key_for(user: User, scopes: list[str], **fields: Any) -> tuple[ApiKey, str]:
    raw, prefix, key_hash = ApiKey.generate()
    key = ApiKey.objects.create(
        user=user,
        name=fields.pop("name", "test key"),
        prefix=prefix,
        key_hash=key_hash,
        scopes=scopes,
        **fields,
    )
    return key, raw
