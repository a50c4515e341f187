"""Report pages: the dashboards, the saved reports, the builder with its live preview, a
report with its chart and table, the records behind any figure, and the exports. Thin:
each parses the request, calls the engine, a selector or one service, and renders."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from rapport.core import registry, spreadsheets
from rapport.core.errors import Conflict
from rapport.core.http import AuthedRequest
from rapport.core.listing import Column, EmptyState, Listing, ListPage
from rapport.core.pagination import Page, SortKey, keyset_page
from rapport.core.permissions import can
from rapport.reporting import dashboards, engine, presenting, selectors, services
from rapport.reporting.engine import ReportDefinition
from rapport.reporting.models import Dashboard, SavedReport
from rapport.reporting.query_params import (
    FILTER_ROWS,
    GROUP_ROWS,
    MEASURE_ROWS,
    Parsed,
    definition_params,
    definition_query,
    parse,
)


def _visible_sources(user: Any) -> list[registry.ReportSource]:
    return [s for s in registry.report_sources() if can(user, "view", s.object_type)]


def _figures(user: Any, definition: ReportDefinition, base_query: str) -> dict[str, Any]:
    """The context `reporting/_result.html` draws: table, chart data and export links."""
    result = engine.run_report(definition, actor=user)
    return {
        "result": result,
        "rows": presenting.table_rows(result, base_query),
        "chart": presenting.chart_data(result, base_query),
        "base_query": base_query,
        "may_export": can(user, "export", result.source.object_type),
        "group_cap": engine.GROUP_CAP,
    }


def _loaded(user: Any, params: QueryDict) -> tuple[ReportDefinition, SavedReport | None, str]:
    """The definition a drill-down or export is about: a saved report (`report=`) the
    user may open, or an unsaved one spelt out in the parameters (the builder's)."""
    if params.get("report"):
        try:
            pk = int(str(params.get("report")))
        except ValueError:
            raise Http404("No such report.") from None
        report = selectors.report_detail(actor=user, pk=pk)
        return ReportDefinition.from_dict(report.definition), report, f"report={report.pk}"
    definition = parse(params).definition()
    return definition, None, definition_query(definition)


# --- dashboards and the list ----------------------------------------------------------


@login_required
def dashboard(request: AuthedRequest, key: str = "") -> HttpResponse:
    key = key or dashboards.dashboard_for(request.user)
    if key not in Dashboard.values:
        raise Http404("No such dashboard.")
    tiles = []
    for report in selectors.dashboard_reports(actor=request.user, dashboard=key):
        tile: dict[str, Any] = {"report": report, "chart_id": f"tile-chart-{report.pk}"}
        try:
            definition = ReportDefinition.from_dict(report.definition)
            tile.update(_figures(request.user, definition, f"report={report.pk}"))
        except PermissionDenied:
            continue  # a tile over records outside the user's role is not theirs to see
        except ValidationError as exc:
            tile["error"] = " ".join(exc.messages)
        tiles.append(tile)
    return render(
        request,
        "reporting/dashboard.html",
        {
            "key": key,
            "label": Dashboard(key).label,
            "dashboards": Dashboard.choices,
            "tiles": tiles,
            "note": dashboards.NOTES.get(key, ""),
            "may_seed": getattr(request.user, "is_admin", False),
        },
    )


@login_required
@require_POST
def dashboards_seed(request: AuthedRequest) -> HttpResponse:
    created = services.dashboards_seed(actor=request.user)
    messages.success(request, f"Added {created} standard report(s) to the dashboards.")
    return redirect("reporting:home")


@login_required
def report_list(request: AuthedRequest) -> HttpResponse:
    labels = {s.name: s.label for s in registry.report_sources()}
    reports = [
        (r, labels.get(r.definition.get("source", ""), "?"))
        for r in selectors.report_list(actor=request.user).order_by("name", "id")
    ]
    return render(request, "reporting/report_list.html", {"reports": reports})


# --- the builder ----------------------------------------------------------------------


def _rows(params: QueryDict | dict[str, Any], prefix: str, count: int, key: str) -> list[int]:
    """The row numbers the builder shows: those filled in, then one blank (filters)."""
    filled = [i for i in range(count) if str(params.get(f"{prefix}{i}_{key}") or "").strip()]
    if prefix == "f":
        free = next((i for i in range(count) if i not in filled), None)
        return filled + ([free] if free is not None else [])
    return list(range(count))


def _builder_context(
    user: Any, params: Any, parsed: Parsed, errors: dict[str, str]
) -> dict[str, Any]:
    sources = _visible_sources(user)
    source = registry.report_source(parsed.raw["source"]) or (sources[0] if sources else None)

    def value(name: str) -> str:
        return str(params.get(name) or "").strip()

    dims = {d.name: d for d in source.dimensions} if source else {}
    filters = []
    for i in _rows(params, "f", FILTER_ROWS, "field"):
        dim = dims.get(value(f"f{i}_field"))
        filters.append(
            {
                "i": i,
                "field": value(f"f{i}_field"),
                "op": value(f"f{i}_op"),
                "value": value(f"f{i}_value"),
                "ops": list(engine.OPERATORS[dim.kind].items()) if dim else [],
                "kind": dim.kind if dim else "",
                "choices": dim.choices if dim else (),
                "errors": [errors.get(f"f{i}_{k}", "") for k in ("field", "op", "value")],
            }
        )
    groups = []
    for i in range(GROUP_ROWS):
        dim = dims.get(value(f"g{i}_field"))
        groups.append(
            {
                "i": i,
                "field": value(f"g{i}_field"),
                "bucket": value(f"g{i}_bucket") or ("month" if dim and dim.kind == "date" else ""),
                "is_date": bool(dim and dim.kind == "date"),
                "error": errors.get(f"g{i}_field") or errors.get(f"g{i}_bucket", ""),
            }
        )
    measures = []
    for i in range(MEASURE_ROWS):
        fn = value(f"m{i}_fn")
        if i == 0 and "source" not in params:
            fn = "count"
        measures.append(
            {
                "i": i,
                "fn": fn,
                "field": value(f"m{i}_field"),
                "error": errors.get(f"m{i}_fn") or errors.get(f"m{i}_field", ""),
            }
        )
    return {
        "sources": sources,
        "source": source,
        "filters": filters,
        "groups": groups,
        "measures": measures,
        "chart_type": value("chart") or "bar",
        "charts": list(engine.CHARTS.items()),
        "buckets": list(engine.BUCKETS.items()),
        "functions": list(engine.MEASURE_FUNCTIONS.items()),
        "errors": errors,
        "name": value("name"),
        "description": value("description"),
    }


@login_required
def builder(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    user = request.user
    report = selectors.report_detail(actor=user, pk=pk) if pk else None
    if report is not None and not services.may_change(user, report):
        raise PermissionDenied("Only the report's owner or an administrator may change it.")
    params: Any = request.POST if request.method == "POST" else request.GET
    if "source" not in params and report is not None:
        params = dict(definition_params(ReportDefinition.from_dict(report.definition)))
        params.update(name=report.name, description=report.description)
    elif "source" not in params:
        sources = _visible_sources(user)
        if not sources:
            raise PermissionDenied("Your role includes no records to report on.")
        params = {"source": sources[0].name, "m0_fn": "count", "chart": "bar"}
    parsed = parse(params)
    errors: dict[str, str] = {}
    figures: dict[str, Any] = {}
    definition = None
    try:
        definition = parsed.definition()
        figures = _figures(user, definition, definition_query(definition))
    except ValidationError as exc:
        errors = parsed.field_errors(exc)
    except PermissionDenied as exc:
        errors = {"source": str(exc)}
    status = 200
    if request.method == "POST":
        if definition is not None and not errors:
            try:
                if report is None:
                    report = services.report_create(
                        actor=user,
                        name=str(params.get("name") or ""),
                        description=str(params.get("description") or ""),
                        definition=definition.to_dict(),
                    )
                else:
                    report = services.report_update(
                        actor=user,
                        report=report,
                        name=str(params.get("name") or ""),
                        description=str(params.get("description") or ""),
                        definition=definition.to_dict(),
                        expected_version=_version(params),
                    )
                messages.success(request, f"Saved “{report.name}”.")
                return redirect(report.get_absolute_url())
            except ValidationError as exc:
                errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
            except Conflict:
                errors["name"] = "Someone changed this report meanwhile: reload it first."
        status = 422
    context = {
        **_builder_context(user, params, parsed, errors),
        **figures,
        "report": report,
        "version": report.version if report else "",
    }
    htmx = getattr(request, "htmx", None)
    template = "reporting/_builder.html" if htmx and htmx.target == "builder" else None
    return render(request, template or "reporting/builder.html", context, status=status)


def _version(params: Any) -> int | None:
    try:
        return int(params.get("version") or "") or None
    except ValueError:
        return None


# --- one report -----------------------------------------------------------------------


@login_required
def report_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    report = selectors.report_detail(actor=request.user, pk=pk)
    context: dict[str, Any] = {
        "report": report,
        "may_change": services.may_change(request.user, report),
    }
    try:
        definition = ReportDefinition.from_dict(report.definition)
        context.update(_figures(request.user, definition, f"report={report.pk}"))
        context["conditions"] = engine.filter_labels(definition)
        context["base_query_builder"] = definition_query(definition)
    except ValidationError as exc:
        context["error"] = " ".join(exc.messages)
    if context["may_change"]:
        context["roles"] = selectors.share_role_choices()
        context["shared_role_ids"] = selectors.shared_role_ids(report=report)
    return render(request, "reporting/report_detail.html", context)


@login_required
@require_POST
def report_share(request: AuthedRequest, pk: int) -> HttpResponse:
    report = selectors.report_detail(actor=request.user, pk=pk)
    try:
        role_ids = [int(v) for v in request.POST.getlist("roles")]
    except ValueError:
        raise ValidationError({"roles": "Choose roles from the list."}) from None
    services.report_share(
        actor=request.user,
        report=report,
        role_ids=role_ids,
        everyone=request.POST.get("everyone") == "on",
    )
    messages.success(request, "Sharing saved.")
    return redirect(report.get_absolute_url())


@login_required
@require_POST
def report_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    report = selectors.report_detail(actor=request.user, pk=pk)
    services.report_delete(actor=request.user, report=report)
    messages.success(request, f"Deleted “{report.name}”.")
    return redirect("reporting:list")


# --- export ---------------------------------------------------------------------------


class _Echo:
    """A file whose `write` hands the line back, so a CSV writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


@login_required
def export(request: AuthedRequest) -> HttpResponseBase:
    """The report's table as CSV (streamed) or XLSX, for users whose role may export the
    records it counts."""
    try:
        definition, report, _ = _loaded(request.user, request.GET)
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain")
    result = engine.run_report(definition, actor=request.user)
    if not can(request.user, "export", result.source.object_type):
        raise PermissionDenied("Your role may not export these records.")
    name = slugify(report.name if report else f"{result.source.label} report") or "report"
    table = result.table()
    if request.GET.get("format") == "xlsx":
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "report.xlsx"
            spreadsheets.write_xlsx(path, sheet="Report", rows=table)
            body = path.read_bytes()
        response = HttpResponse(
            body,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        return response
    writer = spreadsheets.csv_writer(_Echo())

    def lines() -> Iterator[str]:
        for row in table:
            yield writer.writerow(row)

    stream = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stream["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return stream


# --- drill-down -----------------------------------------------------------------------


NEWEST = {"newest": SortKey("newest", "pk")}


class RecordList(ListPage):
    """The records behind one figure of a report, newest first, each linking to its page.

    The parameters are the report's (`report=` or the builder's) and `k`, one group value
    per grouping the figure belongs to (none: every record the report counts)."""

    model = SavedReport  # unused: `check_access` checks the source's object type
    template = "reporting/records.html"
    results_template = "reporting/_record_results.html"
    sorts = NEWEST
    default_sort = "-newest"
    on_bad_request = "error"
    empty = EmptyState(
        icon="search",
        title="No records behind this figure any more",
        text="They changed since the report ran, or left your scope.",
    )
    empty_filtered = empty

    def check_access(self) -> None:
        try:
            self.definition, self.report, self.base_query = _loaded(
                self.request.user, self.request.GET
            )
        except ValidationError as exc:
            raise Http404(" ".join(exc.messages)) from None
        source = registry.report_source(self.definition.source)
        if source is None or not can(self.request.user, "view", source.object_type):
            raise PermissionDenied("Your role does not include these records.")
        self.source = source
        self.keys = self.request.GET.getlist("k")[: len(self.definition.groups)]
        dims = {d.name: d for d in source.dimensions}
        self.fields = [dims[name] for name in source.columns if name in dims]

    def visible_columns(self) -> Sequence[Column]:
        return (
            Column(self.source.label[:-1] if self.source.label.endswith("s") else "Record"),
            *(Column(f.label, numeric=f.kind == "number") for f in self.fields),
        )

    def is_filtered(self, data: dict[str, Any], params: QueryDict) -> bool:
        return False

    def read(self, *, data: dict[str, Any], sort: str, cursor: str | None, limit: int) -> Page[Any]:
        queryset = engine.drill_down(self.definition, actor=self.request.user, keys=self.keys)
        related = {f.path.rsplit("__", 1)[0] for f in self.fields if "__" in f.path}
        if related:
            queryset = queryset.select_related(*related)
        return keyset_page(
            queryset, sort_key=NEWEST["newest"], descending=True, cursor=cursor, limit=limit
        )

    def extra_context(self, listing: Listing, data: dict[str, Any]) -> dict[str, Any]:
        items = listing.page.items if listing.page else []
        return {
            "source": self.source,
            "report": self.report,
            "back_url": (
                self.report.get_absolute_url()
                if self.report
                else f"{_builder_url()}?{self.base_query}"
            ),
            "figure": engine.figure_labels(self.definition, self.keys),
            "conditions": engine.filter_labels(self.definition),
            "records": [
                {
                    "title": self.source.record_title(obj),
                    "url": self.source.record_url(obj),
                    "cells": [
                        (engine.field_display(f, obj), f.kind == "number") for f in self.fields
                    ],
                }
                for obj in items
            ],
        }


def _builder_url() -> str:
    return reverse("reporting:new")


records = RecordList.as_view()
