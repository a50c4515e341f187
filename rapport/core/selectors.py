"""Reads of the shared kernel: audit history, jobs, tasks, global search."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from rapport.core import registry
from rapport.core.models import AuditLogEntry, Job


def audit_log(
    *,
    actor: Any,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_id: int | None = None,
    action: str | None = None,
) -> QuerySet[AuditLogEntry]:
    """The whole log is for admins; a record's own history is checked by its caller."""
    if not actor.is_admin:
        raise PermissionDenied("Only administrators may search the audit log.")
    qs = AuditLogEntry.objects.all()
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if actor_id:
        qs = qs.filter(actor_id=actor_id)
    if action:
        qs = qs.filter(action=action)
    return qs.order_by("-occurred_at", "-id")


def object_history(*, object_type: str, object_id: Any) -> QuerySet[AuditLogEntry]:
    """The history of one record; call only after checking the actor may view the record."""
    return AuditLogEntry.objects.filter(object_type=object_type, object_id=str(object_id)).order_by(
        "-occurred_at", "-id"
    )


def jobs_for(*, actor: Any) -> QuerySet[Job]:
    """A user's own jobs (admins see everyone's)."""
    qs = Job.objects.select_related("owner")
    return qs if actor.is_admin else qs.filter(owner=actor)


def job_for(*, actor: Any, job_id: Any) -> Job:
    return jobs_for(actor=actor).get(pk=job_id)


def search_page(*, actor: Any, query: str, limit: int = 25) -> list[registry.SearchResults]:
    """The search page: each provider's best hits, with its count and "see all" link when
    it gives them."""
    query = query.strip()
    if len(query) < 2:
        return []
    results = []
    for provider in registry.search_providers():
        if provider.results is not None:
            results.append(provider.results(actor=actor, query=query, limit=limit))
        else:
            hits = provider.search(actor=actor, query=query, limit=limit)
            results.append(registry.SearchResults(provider.label, hits, str(len(hits))))
    return results


def global_search(*, actor: Any, query: str, limit: int = 8) -> list[registry.SearchHit]:
    """Hits from every registered provider, each already narrowed to the actor's scope."""
    query = query.strip()
    if len(query) < 2:
        return []
    hits: list[registry.SearchHit] = []
    for provider in registry.search_providers():
        hits.extend(provider.search(actor=actor, query=query, limit=limit))
    return hits[: limit * 2]
