"""Bulk actions on selected customers, and on every customer a list filter matches (a job)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from rapport.core import audit, outbox, registry
from rapport.core.models import AuditAction
from rapport.core.permissions import acting_user
from rapport.customers.models import Customer, CustomerTag, Tag
from rapport.customers.schemas import customer_payload
from rapport.customers.services.customers import _protected_by, check_assignment
from rapport.customers.services.inputs import CUSTOMER_TYPE, _normalize_tags


@dataclass
class BulkResult:
    """How many selected records were changed and how many the actor may not change."""

    done: int
    skipped: int


def _bulk_targets(
    actor: Any, customer_ids: Iterable[int], action: str
) -> tuple[list[Customer], int]:
    from rapport.core.permissions import scope_queryset

    ids = sorted({int(i) for i in customer_ids})
    allowed = list(
        scope_queryset(Customer.objects.filter(pk__in=ids), actor=actor, action=action)
        .select_for_update()
        .order_by("pk")
    )
    return allowed, len(ids) - len(allowed)


def _bulk_events(customer_ids: list[int], event_type: str, extra: dict[str, Any]) -> None:
    refreshed = Customer.objects.filter(pk__in=customer_ids).prefetch_related(
        "tags", "emails", "phones", "addresses"
    )
    outbox.emit_many(
        outbox.build(event_type, {**customer_payload(c), **extra}, aggregate=c) for c in refreshed
    )


def _audit_each(actor: Any, action: str, customers: Iterable[Customer], changes_of: Any) -> None:
    """One audit row per customer of a bulk write, inserted together."""
    from rapport.core.models import AuditLogEntry

    AuditLogEntry.objects.bulk_create(
        [
            audit.entry(
                actor=actor,
                action=action,
                object_type=CUSTOMER_TYPE,
                object_id=c.pk,
                object_repr=c.display_name,
                changes=changes_of(c),
            )
            for c in customers
        ],
        batch_size=1000,
    )


@transaction.atomic
def customers_bulk_tag(
    *,
    actor: Any,
    customer_ids: Iterable[int],
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> BulkResult:
    """Add and/or remove tags on many customers; records the actor may not edit are skipped."""
    add_names, remove_names = _normalize_tags(add), _normalize_tags(remove)
    if not add_names and not remove_names:
        raise ValidationError({"tags": "Name at least one tag to add or remove."})
    targets, skipped = _bulk_targets(actor, customer_ids, "edit")
    ids = [c.pk for c in targets]
    if not ids:
        return BulkResult(done=0, skipped=skipped)
    if add_names:
        Tag.objects.bulk_create([Tag(name=n) for n in add_names], ignore_conflicts=True)
        tags = list(Tag.objects.filter(name__in=add_names))
        CustomerTag.objects.bulk_create(
            [CustomerTag(customer_id=i, tag=t) for i in ids for t in tags],
            ignore_conflicts=True,
            batch_size=1000,
        )
    if remove_names:
        CustomerTag.objects.filter(customer_id__in=ids, tag__name__in=remove_names).delete()
    Customer.objects.filter(pk__in=ids).update(version=F("version") + 1, updated_at=timezone.now())
    change = {"tags": {"added": add_names, "removed": remove_names}}
    _audit_each(actor, AuditAction.UPDATE, targets, lambda c: change)
    _bulk_events(ids, "customer.updated", {"changed_fields": ["tags"]})
    return BulkResult(done=len(ids), skipped=skipped)


@transaction.atomic
def customers_bulk_assign(
    *,
    actor: Any,
    customer_ids: Iterable[int],
    owner_id: int | None = None,
    team_id: int | None = None,
) -> BulkResult:
    """Give many customers a new owner and/or team, within what the actor may assign."""
    if owner_id is None and team_id is None:
        raise ValidationError({"owner": "Choose an owner or a team."})
    targets, skipped = _bulk_targets(actor, customer_ids, "edit")
    checked: dict[tuple[Any, Any], bool] = {}
    allowed: list[Customer] = []
    for customer in targets:
        key = (customer.owner_id, customer.team_id)
        if key not in checked:
            try:
                check_assignment(actor=actor, owner_id=owner_id, team_id=team_id, current=customer)
                checked[key] = True
            except PermissionDenied:
                checked[key] = False
        if checked[key]:
            allowed.append(customer)
    skipped += len(targets) - len(allowed)
    ids = [c.pk for c in allowed]
    if not ids:
        return BulkResult(done=0, skipped=skipped)
    update: dict[str, Any] = {"version": F("version") + 1, "updated_at": timezone.now()}
    if owner_id is not None:
        update["owner_id"] = owner_id
    if team_id is not None:
        update["team_id"] = team_id
    Customer.objects.filter(pk__in=ids).update(**update)
    from rapport.core.models import AuditLogEntry

    rows = []
    for c in allowed:
        changes: dict[str, Any] = {}
        if owner_id is not None and c.owner_id != owner_id:
            changes["owner_id"] = [c.owner_id, owner_id]
        if team_id is not None and c.team_id != team_id:
            changes["team_id"] = [c.team_id, team_id]
        rows.append(
            audit.entry(
                actor=actor,
                action=AuditAction.UPDATE,
                object_type=CUSTOMER_TYPE,
                object_id=c.pk,
                object_repr=c.display_name,
                changes=changes,
            )
        )
    AuditLogEntry.objects.bulk_create(rows, batch_size=1000)
    fields = [n for n, v in (("owner_id", owner_id), ("team_id", team_id)) if v is not None]
    _bulk_events(ids, "customer.updated", {"changed_fields": fields})
    return BulkResult(done=len(ids), skipped=skipped)


@transaction.atomic
def customers_bulk_delete(*, actor: Any, customer_ids: Iterable[int]) -> BulkResult:
    """Delete many customers the actor may delete; each gets an audit row and an event."""
    targets, skipped = _bulk_targets(actor, customer_ids, "delete")
    protected = _protected_by(Customer.objects.filter(pk__in=[c.pk for c in targets]))
    if protected:
        skipped += len(protected)
        targets = [c for c in targets if c.pk not in protected]
    ids = [c.pk for c in targets]
    if not ids:
        return BulkResult(done=0, skipped=skipped)
    _audit_each(
        actor,
        AuditAction.DELETE,
        targets,
        lambda c: {
            k: [v, None] for k, v in audit.snapshot(c).items() if v not in (None, "", [], {})
        },
    )
    _bulk_events(ids, "customer.deleted", {})
    Customer.objects.filter(pk__in=ids).delete()
    return BulkResult(done=len(ids), skipped=skipped)


BULK_ACTIONS = {"tag": "Tag", "untag": "Untag", "assign": "Assign", "delete": "Delete"}


BULK_BATCH = 500


def _bulk_check(action: str, tag: str, owner_id: int | None) -> None:
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": "Choose what to do with the customers."})
    if action in ("tag", "untag") and not _normalize_tags(tag.split(",")):
        raise ValidationError({"tags": "Name at least one tag to add or remove."})
    if action == "assign" and owner_id is None:
        raise ValidationError({"owner": "Choose an owner."})


@transaction.atomic
def customers_bulk_matching_start(
    *,
    actor: Any,
    filters: Mapping[str, list[str]],
    action: str,
    tag: str = "",
    owner_id: int | None = None,
) -> Any:
    """Queue `action` on every customer the list's `filters` match (not only the page the
    user sees), as a job with progress. The job re-checks every record against the
    actor's rights when it runs, in batches, each its own transaction: a retried or
    resumed job only redoes what is idempotent (tagging, assigning, deleting)."""
    from rapport.core.jobs import job_create
    from rapport.customers import selectors

    _bulk_check(action, tag, owner_id)
    selectors.customer_list(actor=actor, filters=filters).exists()  # bad filters: 400 now
    job = job_create(
        owner=acting_user(actor),
        kind="customers.bulk",
        title=f"{BULK_ACTIONS[action]} every matching customer",
        params={"filters": dict(filters), "action": action, "tag": tag, "owner_id": owner_id},
    )
    transaction.on_commit(lambda: registry.enqueue("customers.bulk_apply", job_id=str(job.pk)))
    return job


def customers_bulk_matching(
    *,
    actor: Any,
    filters: Mapping[str, list[str]],
    action: str,
    tag: str = "",
    owner_id: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> BulkResult:
    """Apply `action` to every customer matching `filters` that the actor may change,
    walking the ids in key order in batches (constant memory at a million records)."""
    from rapport.customers import selectors

    _bulk_check(action, tag, owner_id)
    matching = selectors.customer_list(
        actor=actor, action="delete" if action == "delete" else "edit", filters=filters
    )
    names = [t for t in tag.split(",") if t.strip()]
    done = skipped = 0
    last = 0
    while True:
        ids = list(
            matching.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BULK_BATCH]
        )
        if not ids:
            break
        last = ids[-1]
        if action == "delete":
            result = customers_bulk_delete(actor=actor, customer_ids=ids)
        elif action == "assign":
            result = customers_bulk_assign(actor=actor, customer_ids=ids, owner_id=owner_id)
        else:
            result = customers_bulk_tag(
                actor=actor,
                customer_ids=ids,
                add=names if action == "tag" else (),
                remove=names if action == "untag" else (),
            )
        done += result.done
        skipped += result.skipped
        if progress is not None:
            progress(len(ids))
    return BulkResult(done=done, skipped=skipped)
