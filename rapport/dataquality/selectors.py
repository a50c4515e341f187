"""Reads of imports: a user sees their own, admins everyone's."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from rapport.dataquality.models import ImportRun


def import_runs(*, actor: Any) -> QuerySet[ImportRun]:
    qs = ImportRun.objects.select_related("owner", "job", "dry_run_job")
    return qs if actor.is_admin else qs.filter(owner=actor)


def import_run_for(*, actor: Any, run_id: Any) -> ImportRun:
    return import_runs(actor=actor).get(pk=run_id)
