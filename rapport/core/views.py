"""Shell pages: start page, global search, jobs and their progress, tasks, audit log."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import render
from django.views.decorators.http import require_GET

from rapport.core import humanize, registry, selectors
from rapport.core.context_processors import visible_nav_items
from rapport.core.http import AuthedRequest
from rapport.core.models import AuditAction, AuditLogEntry, Job, JobStatus
from rapport.core.pagination import SortKey, first_page_url, keyset_page, next_page_url
from rapport.core.permissions import scope_queryset


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "429.html", status=429)


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    cards = [item for item in visible_nav_items(request.user) if item.key != "home"]
    return render(request, "core/home.html", {"cards": cards})


@login_required
def search(request: AuthedRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:200]
    results = selectors.search_page(actor=request.user, query=query, limit=25)
    hits = [hit for part in results for hit in part.hits]
    return render(
        request,
        "core/search.html",
        {"results": results, "hits": hits, "search_query": query, "query": query},
    )


@login_required
def search_suggest(request: AuthedRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:200]
    hits = selectors.global_search(actor=request.user, query=query, limit=6)
    return render(request, "core/_suggestions.html", {"hits": hits, "query": query})


@login_required
def jobs(request: AuthedRequest) -> HttpResponse:
    jobs = selectors.jobs_for(actor=request.user)
    cursor, error = request.GET.get("cursor"), ""
    try:
        page = keyset_page(jobs, sort_key=JOB_SORT, descending=True, cursor=cursor, limit=50)
    except ValidationError as exc:
        error = " ".join(exc.messages)
        page = keyset_page(jobs, sort_key=JOB_SORT, descending=True, cursor=None, limit=50)
    context = {
        "page": page,
        "error": error,
        "next_url": next_page_url(request.GET, page.next_cursor),
        "first_url": first_page_url(request.GET),
    }
    return render(request, "core/jobs.html", context, status=400 if error else 200)


@login_required
def job_detail(request: AuthedRequest, job_id: Any) -> HttpResponse:
    try:
        job = selectors.job_for(actor=request.user, job_id=job_id)
    except Job.DoesNotExist as exc:
        raise Http404 from exc
    return render(request, "core/job_detail.html", {"job": job})


@login_required
def job_progress(request: AuthedRequest, job_id: Any) -> HttpResponse:
    """The progress fragment that job pages poll (htmx) until the job finishes."""
    try:
        job = selectors.job_for(actor=request.user, job_id=job_id)
    except Job.DoesNotExist as exc:
        raise Http404 from exc
    response = render(request, "core/_job_progress.html", {"job": job})
    if job.is_finished and request.htmx:
        response["HX-Trigger"] = "job-finished"
    return response


@login_required
def job_download(request: AuthedRequest, job_id: Any) -> FileResponse:
    """A job's result file (an export, an import error report): its owner or an admin only."""
    try:
        job = selectors.job_for(actor=request.user, job_id=job_id)
    except Job.DoesNotExist as exc:
        raise Http404 from exc
    if job.status != JobStatus.SUCCEEDED or not job.result_file:
        raise Http404
    root = (settings.VAR_DIR / "files").resolve()
    path = (root / job.result_file).resolve()
    if root not in path.parents or not path.is_file():
        raise Http404
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(
        Path(path).open("rb"), as_attachment=True, filename=path.name, content_type=content_type
    )


@login_required
def tasks(request: AuthedRequest) -> HttpResponse:
    if not request.user.is_admin:
        raise PermissionDenied("Only administrators may see background tasks.")
    context: dict[str, Any] = {
        "jobs": Job.objects.select_related("owner")[:50],
        "backend": settings.TASK_BACKEND,
    }
    if settings.TASK_BACKEND == "database":
        from django_tasks_db.models import DBTaskResult

        from rapport.core.models import ScheduledJob, WorkerHeartbeat

        context["results"] = DBTaskResult.objects.order_by("-enqueued_at")[:100]
        context["failures"] = DBTaskResult.objects.failed().order_by("-finished_at")[:20]
        context["schedules"] = ScheduledJob.objects.order_by("name")
        context["workers"] = WorkerHeartbeat.objects.order_by("-last_seen")
    return render(request, "core/tasks.html", context)


JOB_SORT = SortKey("created_at", "created_at")
AUDIT_PAGE_SIZE = 50
AUDIT_SORT = SortKey("occurred_at", "occurred_at")


def _audit_page(
    request: AuthedRequest, entries: QuerySet[AuditLogEntry]
) -> tuple[dict[str, Any], int]:
    """A keyset page of audit entries as people read them, and the response status."""
    error, status = "", 200
    try:
        page = keyset_page(
            entries,
            sort_key=AUDIT_SORT,
            descending=True,
            cursor=request.GET.get("cursor"),
            limit=AUDIT_PAGE_SIZE,
        )
    except ValidationError as exc:
        error, status = " ".join(exc.messages), 400
        page = keyset_page(entries, sort_key=AUDIT_SORT, descending=True, cursor=None, limit=50)
    return {
        "page": page,
        "rows": humanize.audit_rows(page.items, actor=request.user),
        "next_url": next_page_url(request.GET, page.next_cursor),
        "first_url": first_page_url(request.GET),
        "error": error,
    }, status


@login_required
def audit_log(request: AuthedRequest) -> HttpResponse:
    action = request.GET.get("action") or None
    filters = {
        "object_type": request.GET.get("object_type") or None,
        "object_id": request.GET.get("object_id") or None,
        "action": action if action in AuditAction.values else None,
    }
    entries = selectors.audit_log(
        actor=request.user,
        object_type=filters["object_type"],
        object_id=filters["object_id"],
        action=filters["action"],
    )
    context, status = _audit_page(request, entries)
    object_types = [(o.name, o.label) for o in registry.object_types()]
    return render(
        request,
        "core/audit_log.html",
        {
            **context,
            "filters": filters,
            "actions": AuditAction.choices,
            "object_types": object_types,
        },
        status=status,
    )


@login_required
def object_history(request: AuthedRequest, object_type: str, object_id: str) -> HttpResponse:
    """One record's change history, for anyone who may view the record."""
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError) as exc:
        raise Http404 from exc
    visible = scope_queryset(model._default_manager.all(), actor=request.user)
    obj = visible.filter(pk=object_id).first() if object_id.isdigit() else None
    if obj is None:
        raise Http404
    entries = selectors.object_history(object_type=object_type, object_id=object_id)
    context, status = _audit_page(request, entries)
    return render(request, "core/history.html", {**context, "obj": obj}, status=status)
