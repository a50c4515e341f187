"""Save, change, share and delete reports; seed the dashboards' reports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from rapport.core import audit, outbox, registry
from rapport.core.models import AuditAction
from rapport.core.permissions import can
from rapport.core.versioning import bump_version, lock_for_change
from rapport.identity.models import Role
from rapport.reporting import dashboards
from rapport.reporting.engine import ReportDefinition
from rapport.reporting.models import Dashboard, SavedReport


def _is_admin(actor: Any) -> bool:
    return bool(getattr(actor, "is_admin", False))


def may_change(actor: Any, report: SavedReport) -> bool:
    """Owners change their reports; administrators change every report (seeded ones too)."""
    return _is_admin(actor) or (report.owner_id is not None and report.owner_id == actor.pk)


def _require_change(actor: Any, report: SavedReport) -> None:
    if not may_change(actor, report):
        raise PermissionDenied("Only the report's owner or an administrator may change it.")


def _definition(actor: Any, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The validated definition as stored; a report over records the actor may not see
    cannot be saved (it would show them nothing, and share nothing either)."""
    definition = ReportDefinition.from_dict(raw)
    source = registry.report_source(definition.source)
    if source is None or not can(actor, "view", source.object_type):
        raise PermissionDenied("Your role does not include these records.")
    return definition.to_dict()


def _name(value: str) -> str:
    name = (value or "").strip()
    if not name:
        raise ValidationError({"name": "Give the report a name."})
    if len(name) > 100:
        raise ValidationError({"name": "At most 100 characters."})
    return name


def _dashboard(value: str) -> str:
    if value and value not in Dashboard.values:
        raise ValidationError({"dashboard": f"Unknown dashboard {value!r}."})
    return value


def _payload(report: SavedReport) -> dict[str, Any]:
    return {
        "id": report.pk,
        "name": report.name,
        "owner_id": report.owner_id,
        "definition": report.definition,
        "dashboard": report.dashboard,
        "shared_with_everyone": report.shared_with_everyone,
        "version": report.version,
    }


@transaction.atomic
def report_create(
    *,
    actor: Any,
    name: str,
    definition: Mapping[str, Any],
    description: str = "",
    dashboard: str = "",
) -> SavedReport:
    """Save a report owned by `actor`, private until shared; only administrators put a
    report on a dashboard."""
    if not getattr(actor, "is_authenticated", False):
        raise PermissionDenied("Log in to save reports.")
    if dashboard and not _is_admin(actor):
        raise PermissionDenied("Only administrators put reports on the dashboards.")
    report = SavedReport.objects.create(
        owner_id=actor.pk,
        name=_name(name),
        description=(description or "").strip()[:255],
        definition=_definition(actor, definition),
        dashboard=_dashboard(dashboard),
    )
    audit.record_created(actor=actor, obj=report)
    outbox.emit("report.created", _payload(report), aggregate=report)
    return report


@transaction.atomic
def report_update(
    *,
    actor: Any,
    report: SavedReport,
    name: str | None = None,
    definition: Mapping[str, Any] | None = None,
    description: str | None = None,
    expected_version: int | None = None,
) -> SavedReport:
    """Change what is given; a stale `expected_version` is refused (Conflict)."""
    _require_change(actor, report)
    report = lock_for_change(report, expected_version=expected_version)
    before = audit.snapshot(report)
    if name is not None:
        report.name = _name(name)
    if description is not None:
        report.description = description.strip()[:255]
    if definition is not None:
        report.definition = _definition(actor, definition)
    changes = audit.diff(before, audit.snapshot(report))
    if not changes:
        return report
    bump_version(report)
    report.save()
    report.refresh_from_db()
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=report, changes=changes)
    outbox.emit(
        "report.updated",
        {**_payload(report), "changed_fields": sorted(changes)},
        aggregate=report,
    )
    return report


@transaction.atomic
def report_share(
    *,
    actor: Any,
    report: SavedReport,
    role_ids: Iterable[int],
    everyone: bool = False,
) -> SavedReport:
    """Share the report with the users of these roles (or everyone); an empty list and
    `everyone=False` make it private again. Each reader sees only their own records in
    it: a shared report shares the question, not the answers."""
    _require_change(actor, report)
    report = lock_for_change(report, expected_version=None)
    wanted = sorted(set(role_ids))
    known = set(Role.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    unknown = [pk for pk in wanted if pk not in known]
    if unknown:
        raise ValidationError({"roles": f"Unknown role {unknown[0]}."})
    before = sorted(report.shared_with_roles.values_list("pk", flat=True))
    if before == wanted and report.shared_with_everyone == everyone:
        return report
    changes: dict[str, Any] = {}
    if before != wanted:
        report.shared_with_roles.set(wanted)
        changes["shared_with_roles"] = [before, wanted]
    if report.shared_with_everyone != everyone:
        changes["shared_with_everyone"] = [report.shared_with_everyone, everyone]
        report.shared_with_everyone = everyone
    bump_version(report)
    report.save()
    report.refresh_from_db()
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=report, changes=changes)
    outbox.emit(
        "report.shared",
        {**_payload(report), "role_ids": wanted},
        aggregate=report,
    )
    return report


@transaction.atomic
def report_delete(*, actor: Any, report: SavedReport, expected_version: int | None = None) -> None:
    _require_change(actor, report)
    report = lock_for_change(report, expected_version=expected_version)
    payload = _payload(report)
    audit.record_deleted(actor=actor, obj=report, before=audit.snapshot(report))
    outbox.emit("report.deleted", payload, aggregate=report)
    report.delete()


@transaction.atomic
def dashboards_seed(*, actor: Any) -> int:
    """Create the dashboards' standard reports that are missing (by dashboard and name),
    shared with everyone and owned by no one; returns how many it created. Tiles over
    a source no app registers (deals before sales exists) are skipped."""
    if not _is_admin(actor):
        raise PermissionDenied("Only administrators set up the dashboards.")
    created = 0
    for tile in dashboards.standard_tiles():
        if registry.report_source(tile.definition["source"]) is None:
            continue
        if SavedReport.objects.filter(dashboard=tile.dashboard, name=tile.name).exists():
            continue
        report = SavedReport.objects.create(
            name=tile.name,
            description=tile.description,
            definition=ReportDefinition.from_dict(tile.definition).to_dict(),
            dashboard=tile.dashboard,
            position=tile.position,
            shared_with_everyone=True,
        )
        audit.record_created(actor=actor, obj=report)
        outbox.emit("report.created", _payload(report), aggregate=report)
        created += 1
    return created
