"""What every commerce write shares: object types, status rules and small value checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from rapport.commerce.models import OrderChannel, OrderStatus
from rapport.core.permissions import Scope, require_assignees_exist
from rapport.customers import selectors as customer_selectors
from rapport.customers.models import Channel, Customer
from rapport.customers.normalize import clean_text

ORDER_TYPE = "commerce.order"


SHIPMENT_TYPE = "commerce.shipment"


BATCH_SIZE = 500


# How an order's sales channel reads on the customer's timeline.
TIMELINE_CHANNEL: dict[str, str] = {
    OrderChannel.WEB: Channel.WEB,
    OrderChannel.MARKETPLACE: Channel.WEB,
    OrderChannel.STORE: Channel.STORE,
    OrderChannel.PHONE: Channel.PHONE,
    OrderChannel.EMAIL: Channel.EMAIL,
    OrderChannel.SALES: Channel.IN_PERSON,
}


# What a user may move an order to by hand. Upserts from the system of record (shop, ERP)
# are not held to this: that system is the authority on its orders.
ORDER_TRANSITIONS: dict[str, set[str]] = {
    OrderStatus.PENDING: {"paid", "fulfilled", "shipped", "delivered", "cancelled"},
    OrderStatus.PAID: {"fulfilled", "shipped", "delivered", "cancelled", "returned"},
    OrderStatus.FULFILLED: {"shipped", "delivered", "cancelled", "returned"},
    OrderStatus.SHIPPED: {"delivered", "returned"},
    OrderStatus.DELIVERED: {"returned"},
    OrderStatus.CANCELLED: set(),
    OrderStatus.RETURNED: set(),
}


def _add(errors: dict[str, list[str]], name: str, exc: ValidationError | str) -> None:
    messages = exc.messages if isinstance(exc, ValidationError) else [exc]
    errors.setdefault(name, []).extend(messages)


def _choice(value: str, choices: Any, label: str) -> str:
    if value not in choices.values:
        raise ValidationError(
            f"{value!r} is not a {label}; use one of: {', '.join(choices.values)}."
        )
    return value


def _text(value: str | None, max_length: int) -> str:
    return clean_text(value, max_length=max_length)


def _aware(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise ValidationError(f"{name} must be a date and time.")
    if timezone.is_naive(value):
        return timezone.make_aware(value, dt.UTC)
    return value


def check_assignment(
    *, actor: Any, object_type: str, owner_id: int | None, team_id: int | None, current: Any
) -> None:
    """Who may give a record to whom (the customers rule, on this object type's grant):
    `all` scope anyone to anyone; `team` scope within their teams; `own` keeps it."""
    grant = actor.grant_for(object_type)
    if grant.scope == Scope.ALL:
        # The narrower scopes only allow assignees that exist (themselves, their teams).
        require_assignees_exist(owner_id=owner_id, team_id=team_id)
        return
    current_owner = current.owner_id if current is not None else None
    current_team = current.team_id if current is not None else None
    if grant.scope == Scope.TEAM:
        if team_id is not None and team_id != current_team and team_id not in actor.team_ids():
            raise PermissionDenied("You may only assign records to your own teams.")
        if owner_id is not None and owner_id not in (current_owner, actor.pk):
            shares = (
                get_user_model().objects.filter(pk=owner_id, teams__in=actor.team_ids()).exists()
            )
            if not shares:
                raise PermissionDenied("You may only assign records to people in your teams.")
        return
    if (owner_id is not None and owner_id not in (current_owner, actor.pk)) or (
        team_id is not None and team_id != current_team
    ):
        raise PermissionDenied("Your role does not allow assigning records to others.")


def _require_visible_customer(actor: Any, customer: Customer) -> None:
    """An order or shipment is only written for a customer the actor can see."""
    if not customer_selectors.customer_list(actor=actor).filter(pk=customer.pk).exists():
        raise PermissionDenied("You may not see this customer, so you may not add orders to it.")


def _raise(message: str) -> Any:
    raise ValidationError(message)


def _default_team(actor: Any) -> int | None:
    team_ids = sorted(actor.team_ids()) if hasattr(actor, "team_ids") else []
    return team_ids[0] if team_ids else None
