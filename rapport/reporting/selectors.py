"""Reads of saved reports, narrowed to what the actor may open: their own, those shared
with their role or with everyone, and every report for administrators."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from rapport.identity.models import Role
from rapport.reporting.models import SavedReport


def report_list(*, actor: Any) -> QuerySet[SavedReport]:
    if not getattr(actor, "is_authenticated", False):
        return SavedReport.objects.none()
    queryset = SavedReport.objects.select_related("owner")
    if getattr(actor, "is_admin", False):
        return queryset
    visible = Q(owner_id=actor.pk) | Q(shared_with_everyone=True)
    role_id = getattr(actor, "role_id", None)
    if role_id is not None:
        shared = SavedReport.shared_with_roles.through.objects.filter(role_id=role_id)
        visible |= Q(pk__in=shared.values("savedreport_id"))
    return queryset.filter(visible)


def report_detail(*, actor: Any, pk: int) -> SavedReport:
    return get_object_or_404(report_list(actor=actor), pk=pk)


def dashboard_reports(*, actor: Any, dashboard: str) -> list[SavedReport]:
    return list(report_list(actor=actor).filter(dashboard=dashboard).order_by("position", "id"))


def shared_role_ids(*, report: SavedReport) -> list[int]:
    return sorted(report.shared_with_roles.values_list("pk", flat=True))


def share_role_choices() -> QuerySet[Any]:
    """The roles a report can be shared with."""
    return Role.objects.order_by("name")
