"""Record-level access: the one place that decides who may do what to which records.

Every selector narrows its queryset with `scope_queryset`, and every service calls
`require` before it writes, so UI lists, detail pages, search, exports and the API can
never disagree about what a user may see or change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models

ACTIONS = ("view", "create", "edit", "delete", "export")


class Scope(models.TextChoices):
    OWN = "own", "Own records"
    TEAM = "team", "Own team's records"
    ALL = "all", "All records"


@dataclass(frozen=True)
class Grant:
    """What one actor may do with one object type: the actions and the record scope."""

    actions: frozenset[str]
    scope: Scope

    def allows(self, action: str) -> bool:
        return action in self.actions


NO_GRANT = Grant(actions=frozenset(), scope=Scope.OWN)
FULL_GRANT = Grant(actions=frozenset(ACTIONS), scope=Scope.ALL)


class Actor(Protocol):
    """Whoever acts: a user, possibly narrowed by the API key the request came with."""

    pk: Any
    is_authenticated: bool

    def grant_for(self, object_type: str) -> Grant: ...

    def team_ids(self) -> frozenset[int]: ...


M = TypeVar("M", bound=models.Model)

CUSTOMER_TYPE = "customers.customer"


class OutsideActor:
    """Someone who is not staff: roles never apply to them, and what they see is fixed
    by who they are, not by a grant. They may only `view`, and only records about their
    customers: the customer rows themselves, and records of types registered with a
    `customer_field` (orders, shipments; tickets later). Every other type, every other
    action and every staff-only check (`is_admin`) is refused.

    `customer_ids()` says which customers; `scope_filter`, `scope_queryset`, `can` and
    `require` apply it, so the portal's pages and a partner's API cannot disagree.
    """

    pk: Any = None  # no staff user row: audited as the outside actor, never as an owner
    is_authenticated = True
    is_admin = False
    is_staff = False
    api_key = None
    actions: frozenset[str] = frozenset({"view"})

    def customer_ids(self) -> frozenset[int]:
        raise NotImplementedError

    def customer_field(self, object_type: str) -> str | None:
        """The path from `object_type` to its customer; None for types outside reach."""
        from rapport.core import registry

        if object_type == CUSTOMER_TYPE:
            return "pk"
        registered = registry.object_type(object_type)
        return registered.customer_field or None if registered else None

    def grant_for(self, object_type: str) -> Grant:
        if self.customer_field(object_type) is None:
            return NO_GRANT
        return Grant(actions=self.actions, scope=Scope.OWN)

    def team_ids(self) -> frozenset[int]:
        return frozenset()

    def record_filter(self, object_type: str) -> models.Q | None:
        field = self.customer_field(object_type)
        if field is None:
            return None
        lookup = "pk__in" if field == "pk" else f"{field}_id__in"
        return models.Q(**{lookup: sorted(self.customer_ids())})

    def reaches(self, record: models.Model) -> bool:
        field = self.customer_field(object_type_of(record))
        if field is None:
            return False
        customer_id = record.pk if field == "pk" else getattr(record, f"{field}_id", None)
        return customer_id is not None and customer_id in self.customer_ids()


@dataclass(frozen=True, eq=False)
class PortalCustomer(OutsideActor):
    """A customer signed in to the self-service portal: their own record and what hangs
    on it (their orders and shipments, their tickets when service registers them)."""

    customer_id: int

    def customer_ids(self) -> frozenset[int]:
        return frozenset({self.customer_id})

    def __str__(self) -> str:
        return f"portal customer #{self.customer_id}"


@dataclass(frozen=True, eq=False)
class PartnerUser(OutsideActor):
    """A partner's user (a reseller, an agency): the records of the partner's customers.
    The partner app resolves which customers those are when it builds the actor."""

    partner_id: int
    partner_customer_ids: frozenset[int]

    def customer_ids(self) -> frozenset[int]:
        return self.partner_customer_ids

    def __str__(self) -> str:
        return f"partner #{self.partner_id}"


def object_type_of(model: type[models.Model] | models.Model) -> str:
    """The object type's stable name, e.g. 'customers.person'."""
    return model._meta.label_lower


def scope_filter(actor: Actor, object_type: str, action: str = "view") -> models.Q | None:
    """The condition on `owner`/`team` for the records `actor` may `action`; None for none."""
    if not getattr(actor, "is_authenticated", False):
        return None
    grant = actor.grant_for(object_type)
    if not grant.allows(action):
        return None
    if isinstance(actor, OutsideActor):
        return actor.record_filter(object_type)
    if grant.scope == Scope.ALL:
        return models.Q()
    own = models.Q(owner_id=actor.pk)
    if grant.scope == Scope.TEAM:
        team_ids = actor.team_ids()
        return own | models.Q(team_id__in=team_ids) if team_ids else own
    return own


def is_owned(model: type[models.Model] | models.Model) -> bool:
    """Whether records of this type have an owner (and so a record scope); catalogue
    types such as products do not: the action grant alone decides."""
    return any(f.name == "owner" for f in model._meta.concrete_fields)


def scope_queryset(
    queryset: models.QuerySet[M], *, actor: Actor, action: str = "view"
) -> models.QuerySet[M]:
    """Narrow `queryset` to the records `actor` may `action` (empty when none)."""
    condition = scope_filter(actor, object_type_of(queryset.model), action)
    if condition is None:
        return queryset.none()
    if isinstance(actor, OutsideActor):  # their customers' records, owned or not
        return queryset.filter(condition)
    if not is_owned(queryset.model):
        return queryset
    return queryset.filter(condition) if condition else queryset


Target = type[models.Model] | models.Model | str


def _type_name(target: Target) -> str:
    return target if isinstance(target, str) else object_type_of(target)


def can(actor: Actor, action: str, target: Target) -> bool:
    """Whether `actor` may `action` the record `target` (or any record, given a model class
    or an object type's name such as "customers.customer": what another app's pages ask
    without importing the model)."""
    if not getattr(actor, "is_authenticated", False):
        return False
    grant = actor.grant_for(_type_name(target))
    if not grant.allows(action):
        return False
    if isinstance(actor, OutsideActor):
        return isinstance(target, type | str) or actor.reaches(target)
    if isinstance(target, type | str) or grant.scope == Scope.ALL or not is_owned(target):
        return True
    owner_id = getattr(target, "owner_id", None)
    if owner_id is not None and owner_id == actor.pk:
        return True
    if grant.scope == Scope.TEAM:
        team_id = getattr(target, "team_id", None)
        return team_id is not None and team_id in actor.team_ids()
    return False


def require(actor: Actor, action: str, target: Target) -> None:
    """Raise PermissionDenied unless `actor` may `action` `target`. Call before any write."""
    if not can(actor, action, target):
        raise PermissionDenied(f"You may not {action} this {_type_name(target).split('.')[-1]}.")


def require_assignees_exist(*, owner_id: int | None, team_id: int | None) -> None:
    """A ValidationError naming `owner_id` / `team_id` when no such user or team exists.

    Without it the write goes through and the foreign key fails at commit (a 500 on
    PostgreSQL, whose constraints are checked at the end of the transaction).
    """
    from django.apps import apps
    from django.contrib.auth import get_user_model

    errors: dict[str, str] = {}
    if owner_id is not None and not get_user_model().objects.filter(pk=owner_id).exists():
        errors["owner_id"] = f"There is no user #{owner_id}."
    team_model = apps.get_model("identity", "Team")
    if team_id is not None and not team_model.objects.filter(pk=team_id).exists():
        errors["team_id"] = f"There is no team #{team_id}."
    if errors:
        raise ValidationError(errors)


def acting_user(actor: Any) -> Any:
    """The user to store as the author of a row (`actor`, `recorded_by`…), or None.

    Actors that are not users (the command line's system actor, a task acting for nobody)
    are authenticated for permission checks but have no row to point a foreign key at.
    """
    if not getattr(actor, "is_authenticated", False):
        return None
    return actor if isinstance(actor, models.Model) and actor.pk is not None else None


class SystemActor:
    """Who acts for the command line and scheduled jobs: every permission, no user row
    (audited as "system")."""

    pk = None
    is_authenticated = True
    is_admin = True
    api_key = None

    def grant_for(self, object_type: str) -> Grant:
        return FULL_GRANT

    def team_ids(self) -> frozenset[int]:
        return frozenset()

    def __str__(self) -> str:
        return "system"


def system_actor() -> SystemActor:
    return SystemActor()
