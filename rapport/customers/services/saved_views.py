"""A user's saved customer-list views and chosen list columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from rapport.core import audit
from rapport.core.models import AuditAction
from rapport.core.permissions import require
from rapport.customers import normalize
from rapport.customers.models import Customer
from rapport.customers.services.inputs import CUSTOMER_TYPE


@transaction.atomic
def saved_view_create(
    *, actor: Any, name: str, params: Mapping[str, Any], is_shared: bool = False
) -> Any:
    """Save the list's current filters and sort under a name (private unless shared)."""
    from rapport.core.models import SavedView
    from rapport.customers.selectors import validate_list_params

    require(actor, "view", Customer)
    name = normalize.clean_text(name, max_length=100)
    if not name:
        raise ValidationError({"name": "Give the view a name."})
    clean = validate_list_params(actor=actor, params=params)
    view = SavedView.objects.create(
        owner=actor, object_type=CUSTOMER_TYPE, name=name, params=clean, is_shared=is_shared
    )
    audit.record_created(actor=actor, obj=view)
    return view


@transaction.atomic
def list_columns_save(*, actor: Any, columns: Sequence[str]) -> list[str]:
    """Remember which customer-list columns `actor` wants (the name always shows)."""
    from rapport.core.models import SavedView
    from rapport.customers.selectors import COLUMNS_VIEW_TYPE, LIST_COLUMNS

    require(actor, "view", Customer)
    known = [c for c, _, _ in LIST_COLUMNS]
    unknown = sorted(set(columns) - set(known))
    if unknown:
        raise ValidationError(
            {"columns": f"Unknown column {', '.join(unknown)}. Known: {', '.join(known)}."}
        )
    chosen = ["name", *(c for c in known if c in columns and c != "name")]
    view = SavedView.objects.filter(owner=actor, object_type=COLUMNS_VIEW_TYPE).first()
    if view is None:
        view = SavedView.objects.create(
            owner=actor, object_type=COLUMNS_VIEW_TYPE, name="Columns", params={}
        )
    before = list(view.params.get("columns") or [])
    view.params = {"columns": chosen}
    view.save(update_fields=["params"])
    audit.record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=view,
        changes={"columns": [before, chosen]},
    )
    return chosen


@transaction.atomic
def saved_view_delete(*, actor: Any, view: Any) -> None:
    if view.owner_id != actor.pk and not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only its owner or an administrator may delete a saved view.")
    audit.record_deleted(actor=actor, obj=view, before=audit.snapshot(view))
    view.delete()
