"""The audit log: field-level before/after of every change, written inside the change's
transaction so a rolled-back change leaves no audit row and a committed one always has one."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import models

from rapport.core import context
from rapport.core.models import AuditAction, AuditLogEntry
from rapport.core.permissions import object_type_of

if TYPE_CHECKING:
    from rapport.core.gdpr import ErasureContext

Snapshot = dict[str, Any]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def snapshot(obj: models.Model, fields: Iterable[str] | None = None) -> Snapshot:
    """The audited values of `obj`: concrete fields (foreign keys by id) unless named."""
    names = (
        list(fields)
        if fields is not None
        else [
            f.attname
            for f in obj._meta.concrete_fields
            if f.name not in {"id", "created_at", "updated_at", "version", "search_text"}
        ]
    )
    return {name: _jsonable(getattr(obj, name)) for name in names}


def diff(before: Snapshot, after: Snapshot) -> dict[str, list[Any]]:
    """{field: [before, after]} for every field whose value changed."""
    keys = before.keys() | after.keys()
    return {k: [before.get(k), after.get(k)] for k in sorted(keys) if before.get(k) != after.get(k)}


def _actor_fields(actor: Any) -> dict[str, Any]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"actor_id": None, "actor_label": "system"}
    fields: dict[str, Any] = {"actor_id": actor.pk, "actor_label": str(actor)}
    api_key = getattr(actor, "api_key", None)
    if api_key is not None:
        fields.update(api_key_id=api_key.pk, api_key_label=str(api_key))
    return fields


def entry(
    *,
    actor: Any,
    action: AuditAction | str,
    object_type: str,
    object_id: Any,
    object_repr: str = "",
    changes: dict[str, Any] | None = None,
) -> AuditLogEntry:
    """An unsaved audit row (for bulk writers that insert thousands at once)."""
    ctx = context.current()
    return AuditLogEntry(
        action=str(action),
        object_type=object_type,
        object_id=str(object_id),
        object_repr=object_repr[:255],
        changes=_jsonable(changes or {}),
        request_id=ctx.request_id,
        ip_address=ctx.ip_address,
        **_actor_fields(actor),
    )


def record(
    *,
    actor: Any,
    action: AuditAction | str,
    obj: models.Model,
    changes: dict[str, Any] | None = None,
    object_type: str | None = None,
) -> AuditLogEntry:
    """Append one audit row for `obj`."""
    row = entry(
        actor=actor,
        action=action,
        object_type=object_type or object_type_of(obj),
        object_id=obj.pk,
        object_repr=str(obj),
        changes=changes,
    )
    row.save(force_insert=True)
    return row


def record_created(*, actor: Any, obj: models.Model) -> AuditLogEntry:
    return record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=obj,
        changes={k: [None, v] for k, v in snapshot(obj).items() if v not in (None, "", [])},
    )


def record_deleted(*, actor: Any, obj: models.Model, before: Snapshot) -> AuditLogEntry:
    return record(
        actor=actor,
        action=AuditAction.DELETE,
        obj=obj,
        changes={k: [v, None] for k, v in before.items() if v not in (None, "", [])},
    )


def redact_for_erasure(*, object_type: str, object_ids: Iterable[Any], object_repr: str) -> int:
    """Blank the recorded values of earlier rows about erased records (GDPR art. 17).

    The one sanctioned rewrite of the append-only log: rows keep who did what and when,
    but lose the personal values they recorded. Call only from an erasure service, in its
    transaction, and write an ERASE row afterwards.
    """
    ids = [str(i) for i in object_ids]
    if not ids:
        return 0
    rows = AuditLogEntry.objects.filter(object_type=object_type, object_id__in=ids)
    # Bypasses the append-only guard of AuditLogEntryQuerySet.update on purpose.
    return models.QuerySet.update(rows, changes={"erased": True}, object_repr=object_repr[:255])


def redact_personal_values(ctx: ErasureContext) -> int:
    """Replace an erased person's values wherever other rows recorded them (a merge's
    survivor row holding the loser's e-mail, an import row): only the matching values go,
    the rest of each row stays. Part of the same sanctioned erasure path as above.
    """
    from rapport.core.gdpr import sweep

    return sweep(
        AuditLogEntry.objects.all(),
        ctx,
        text_fields=["object_repr"],
        json_fields=["changes"],
        # Bypasses the append-only guard of AuditLogEntryQuerySet.update on purpose.
        updater=models.QuerySet.update,
    )
