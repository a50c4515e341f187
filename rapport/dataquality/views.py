"""Import wizard (upload → mapping → dry run → import), the export page, and the
data-quality report with its bulk fix-ups. Thin: the work is in services, exporting and
cleansing, and runs as background jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from rapport.core import selectors as core_selectors
from rapport.core.http import AuthedRequest
from rapport.core.models import Job
from rapport.core.permissions import can
from rapport.customers import selectors as customer_selectors
from rapport.customers.selectors import CUSTOMER_TYPE
from rapport.dataquality import cleansing, exporting, selectors, services, sources
from rapport.dataquality.forms import ExportForm, MappingForm, UploadForm
from rapport.dataquality.models import ImportMapping, ImportRun, ImportStatus
from rapport.dataquality.uploads import ImportUploadLimit, refused_size

# A report younger than this is shown as it is; an older one is recounted (inline for a
# small scope, in the background for a large one).
REPORT_FRESH_FOR = dt.timedelta(minutes=5)


def _run_or_404(request: AuthedRequest, run_id: Any) -> ImportRun:
    try:
        return selectors.import_run_for(actor=request.user, run_id=run_id)
    except ImportRun.DoesNotExist as exc:
        raise Http404 from exc


@login_required
def import_list(request: AuthedRequest) -> HttpResponse:
    page = Paginator(selectors.import_runs(actor=request.user), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "dataquality/import_list.html",
        {"page": page, "can_export": can(request.user, "export", CUSTOMER_TYPE)},
    )


@csrf_exempt  # checked by _import_new, once the upload handler below is in place
@login_required
def import_new(request: AuthedRequest) -> HttpResponse:
    if not can(request.user, "create", CUSTOMER_TYPE):
        raise PermissionDenied("Your role does not allow creating customers.")
    request.upload_handlers = [ImportUploadLimit(request), *request.upload_handlers]
    return _import_new(request)


@csrf_protect
def _import_new(request: AuthedRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    too_large = refused_size(request)
    if too_large is not None:
        form.is_valid()
        try:
            services.check_upload_size(too_large)
        except ValidationError as exc:
            form.errors["file"] = form.error_class(exc.messages)
    elif request.method == "POST" and form.is_valid():
        try:
            run = services.import_upload(
                actor=request.user,
                object_type=form.cleaned_data["object_type"],
                upload=form.cleaned_data["file"],
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error("file", message)
        else:
            return redirect("dataquality:import_mapping", run_id=run.pk)
    return render(request, "dataquality/import_new.html", {"form": form})


@login_required
def import_mapping(request: AuthedRequest, run_id: Any) -> HttpResponse:
    run = _run_or_404(request, run_id)
    if run.status in (ImportStatus.RUNNING, ImportStatus.DONE):
        return redirect("dataquality:import_detail", run_id=run.pk)
    samples: dict[str, str] = {}
    try:
        path = services.files_root() / run.stored_file
        for row in sources.sample_rows(path, 3, original_name=run.original_name):
            for i, header in enumerate(run.headers):
                if i < len(row) and row[i].strip() and header not in samples:
                    samples[header] = f"e.g. {row[i][:60]}"
    except sources.SourceError:
        pass
    initial = run.mapping
    saved_id = request.GET.get("saved")
    if saved_id and saved_id.isdigit():
        saved = ImportMapping.objects.filter(pk=saved_id, owner=request.user).first()
        if saved is not None:
            initial = {h: saved.mapping.get(h, "") for h in run.headers}
    form = MappingForm(
        request.POST or None,
        headers=run.headers,
        object_type=run.object_type,
        owner=request.user,
        initial_mapping=initial,
        samples=samples,
        initial={"upsert_by": run.upsert_by},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.import_set_mapping(
                actor=request.user,
                run=run,
                mapping=form.mapping(),
                upsert_by=form.cleaned_data.get("upsert_by") or run.upsert_by,
                save_as=form.cleaned_data["save_as"],
            )
            services.import_start(actor=request.user, run=run, dry_run=True)
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            return redirect("dataquality:import_detail", run_id=run.pk)
    return render(request, "dataquality/import_mapping.html", {"run": run, "form": form})


@login_required
def import_detail(request: AuthedRequest, run_id: Any) -> HttpResponse:
    run = _run_or_404(request, run_id)
    # A report saved before dry runs counted unchanged rows has none.
    report = {"unchanged": 0, **(run.dry_run_report or {})}
    return render(
        request,
        "dataquality/import_detail.html",
        {"run": run, "report": report, "errors": report.get("errors", [])},
    )


@login_required
@require_POST
def import_run(request: AuthedRequest, run_id: Any) -> HttpResponse:
    run = _run_or_404(request, run_id)
    try:
        job = services.import_start(actor=request.user, run=run, dry_run=False)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("dataquality:import_detail", run_id=run.pk)
    return redirect("core:job_detail", job_id=job.pk)


@login_required
def export_new(request: AuthedRequest) -> HttpResponse:
    if not can(request.user, "export", CUSTOMER_TYPE):
        raise PermissionDenied("Your role does not allow exporting customers.")
    object_type = request.GET.get("object_type", "customers.customer")
    filters: dict[str, Any] = {
        k: (values if len(values) > 1 else values[0])
        for k, values in request.GET.lists()
        if (k in exporting.FILTERS or k.startswith("cf_")) and any(values)
    }
    form = ExportForm(request.POST or None)
    error = ""
    try:
        filters = exporting.parse_filters(filters, actor=request.user)
    except exporting.ExportError as exc:
        error = str(exc)
    if request.method == "POST" and form.is_valid() and not error:
        try:
            job = exporting.export_start(
                actor=request.user,
                object_type=object_type,
                filters=filters,
                file_format=form.cleaned_data["format"],
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            return redirect("core:job_detail", job_id=job.pk)
    count = None
    if not error:
        count = exporting.contacts_queryset(actor=request.user, filters=filters)[:100_001].count()
    return render(
        request,
        "dataquality/export_new.html",
        {
            "form": form,
            "filters": filters,
            "error": error,
            "count": count,
            "object_type": object_type,
        },
    )


# --- Data quality: the "worst fields" report and its bulk fix-ups -----------------------


def _report_job(request: AuthedRequest) -> Job | None:
    """The job named by ?job= when it belongs to this user (a fix-up or a refresh)."""
    job_id = request.GET.get("job", "")
    if not job_id:
        return None
    try:
        return core_selectors.job_for(actor=request.user, job_id=job_id)
    except (Job.DoesNotExist, ValidationError, ValueError):
        return None


@login_required
def quality_report(request: AuthedRequest) -> HttpResponse:
    if not can(request.user, "view", CUSTOMER_TYPE):
        raise PermissionDenied("Your role does not allow viewing customers.")
    report, running = selectors.latest_report(actor=request.user)
    inline_limit: int = getattr(settings, "DATA_QUALITY_REPORT_INLINE_LIMIT", 20_000)
    stale = report is None or report.computed_at < timezone.now() - REPORT_FRESH_FOR
    if stale and running is None:
        # Small scopes are counted now; a large one is counted in the background (the
        # page shows the last report meanwhile).
        visible = customer_selectors.customer_list(actor=request.user)
        if customer_selectors.capped_count(visible, inline_limit).more:
            if report is None:
                running = cleansing.report_refresh(actor=request.user)
        else:
            report = cleansing.report_now(actor=request.user)
    job = _report_job(request) or running
    return render(
        request,
        "dataquality/quality_report.html",
        {
            "report": report,
            "job": job,
            "can_edit": can(request.user, "edit", CUSTOMER_TYPE),
            "is_admin": request.user.is_admin,
            "list_url": reverse("customers:list"),
        },
    )


@login_required
@require_POST
def quality_refresh(request: AuthedRequest) -> HttpResponse:
    job = cleansing.report_refresh(actor=request.user)
    return redirect(reverse("dataquality:quality_report") + f"?job={job.pk}")


@login_required
@require_POST
def quality_fix(request: AuthedRequest, fix: str) -> HttpResponse:
    try:
        job = cleansing.cleanse_start(actor=request.user, fix=fix)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("dataquality:quality_report")
    messages.success(request, f"{job.title}: started. The report updates when it is done.")
    return redirect(reverse("dataquality:quality_report") + f"?job={job.pk}")


@login_required
@require_POST
def quality_rescore(request: AuthedRequest) -> HttpResponse:
    job = cleansing.rescore_start(actor=request.user)
    return redirect(reverse("dataquality:quality_report") + f"?job={job.pk}")
