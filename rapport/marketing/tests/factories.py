"""Factories for marketing tests: users whose role covers customers, orders and marketing,
customers with an e-mail, and event dicts as a storefront sends them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.utils import timezone

from rapport.commerce.tests.factories import CustomerFactory
from rapport.core.permissions import ACTIONS, Scope
from rapport.customers.models import EmailAddress
from rapport.identity.tests.factories import user_with

MARKETING_TYPES = (
    "customers.customer",
    "commerce.order",
    "commerce.product",
    "marketing.segment",
    "marketing.webevent",
)


def marketer(scope: Scope | str = Scope.ALL, **kwargs: Any) -> Any:
    return user_with(scope, ACTIONS, object_types=MARKETING_TYPES, **kwargs)


def customer(email: str = "", external_id: str | None = None, **fields: Any) -> Any:
    record = CustomerFactory(external_id=external_id, primary_email=email, **fields)
    if email:
        EmailAddress.objects.create(customer=record, email=email, is_primary=True)
    return record


def event(
    type: str = "page_view", *, ago: dt.timedelta = dt.timedelta(minutes=1), **fields: Any
) -> dict[str, Any]:
    return {
        "idempotency_key": fields.pop("idempotency_key", str(uuid.uuid4())),
        "type": type,
        "occurred_at": (timezone.now() - ago).isoformat(),
        **fields,
    }
