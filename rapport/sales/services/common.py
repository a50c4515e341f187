"""What every sales write shares: object type names, small value checks, the timeline."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError

from rapport.customers import selectors as customer_selectors
from rapport.customers import services as customer_services
from rapport.customers.models import Channel, Customer, InteractionKind
from rapport.customers.normalize import clean_text

LEAD_TYPE = "sales.lead"
DEAL_TYPE = "sales.deal"
PIPELINE_TYPE = "sales.pipeline"


def _text(value: Any, max_length: int) -> str:
    return clean_text(None if value is None else str(value), max_length=max_length)


def _add_error(errors: dict[str, list[str]], name: str, exc: ValidationError | str) -> None:
    messages = exc.messages if isinstance(exc, ValidationError) else [exc]
    errors.setdefault(name, []).extend(messages)


def _default_team(actor: Any) -> int | None:
    team_ids = sorted(actor.team_ids()) if hasattr(actor, "team_ids") else []
    return team_ids[0] if team_ids else None


def _require_visible_customer(actor: Any, customer: Customer) -> None:
    """A deal is only written for a customer the actor can see."""
    if not customer_selectors.customer_list(actor=actor).filter(pk=customer.pk).exists():
        raise PermissionDenied("You may not see this customer, so you may not add deals to it.")


def _timeline(
    *,
    actor: Any,
    customer: Customer,
    summary: str,
    source: Any,
    data: dict[str, Any],
    kind: str = InteractionKind.DEAL,
) -> None:
    """A sales entry on the customer's timeline (through the customers' service)."""
    customer_services.interaction_record(
        actor=actor,
        customer=customer,
        kind=kind,
        summary=summary,
        channel=Channel.SYSTEM,
        source=source,
        data=data,
    )
