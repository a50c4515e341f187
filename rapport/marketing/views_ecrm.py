"""Marketing's e-CRM pages: the web events explorer, segments (list, rule builder with a
live count, detail with members and their export) and the tracker settings. Thin: parse,
call one selector or service, render."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from rapport.core import registry, spreadsheets
from rapport.core.errors import Conflict
from rapport.core.http import AuthedRequest
from rapport.core.listing import Column, EmptyState, ListPage
from rapport.core.object_pages import posted_version
from rapport.core.pagination import Page
from rapport.core.permissions import can
from rapport.marketing import rule_builder, segment_rules, selectors, services
from rapport.marketing.event_types import STANDARD_TYPES
from rapport.marketing.models import Segment, SegmentKind, WebEvent

EVENT_TYPE = "marketing.webevent"


# --- Web events -------------------------------------------------------------------------


class EventFilterForm(forms.Form):
    type = forms.ChoiceField(
        required=False,
        choices=[("", "Every type"), *((t, t) for t in sorted(STANDARD_TYPES))],
    )
    customer = forms.IntegerField(required=False, min_value=1, label="Customer id")
    visitor = forms.CharField(required=False, max_length=64, label="Visitor id")


class EventList(ListPage):
    model = WebEvent
    template = "marketing/event_list.html"
    results_template = "marketing/_event_results.html"
    filter_form = EventFilterForm
    sorts = selectors.EVENT_SORTS
    default_sort = "-occurred_at"
    columns = (
        Column("When", sort="occurred_at"),
        Column("Type"),
        Column("Customer"),
        Column("Visitor"),
        Column("Page or product"),
    )
    empty = EmptyState(
        icon="megaphone",
        title="No web events yet",
        text="Events arrive from your shop through POST /api/v1/events or from the tracker "
        "snippet on your site (Marketing → Tracker).",
        action_url="/marketing/tracker/",
        action_label="Set up the tracker",
    )
    empty_filtered = EmptyState(
        icon="search",
        title="No event matches these filters",
        text="Try another type or clear the filters.",
        action_url="/marketing/events/",
        action_label="Clear filters",
    )

    def check_access(self) -> None:
        if not can(self.request.user, "view", EVENT_TYPE):
            raise PermissionDenied("Your role does not include web events.")

    def read(
        self, *, data: dict[str, Any], sort: str, cursor: str | None, limit: int
    ) -> Page[WebEvent]:
        filters = selectors.EventFilters(
            type=data.get("type") or None,
            customer_id=data.get("customer"),
            visitor_id=data.get("visitor") or None,
        )
        return selectors.web_event_page(
            actor=self.request.user, filters=filters, sort=sort, cursor=cursor, limit=limit
        )


event_list = EventList.as_view()


# --- Segments ----------------------------------------------------------------------------


class SegmentFilterForm(forms.Form):
    q = forms.CharField(
        label="Search", required=False, widget=forms.TextInput(attrs={"type": "search"})
    )
    kind = forms.ChoiceField(
        required=False, choices=[("", "Dynamic and static"), *SegmentKind.choices]
    )


class SegmentList(ListPage):
    model = Segment
    template = "marketing/segment_list.html"
    results_template = "marketing/_segment_results.html"
    filter_form = SegmentFilterForm
    sorts = selectors.SEGMENT_SORTS
    default_sort = "name"
    columns = (
        Column("Segment", sort="name"),
        Column("Kind"),
        Column("Members", sort="members", numeric=True),
        Column("Built"),
    )
    empty = EmptyState(
        icon="users",
        title="No segments yet",
        text="A segment is a set of customers described by rules: profile, tags, consent, "
        "what they did on your site and what they bought.",
        action_url="/marketing/segments/new/",
        action_label="New segment",
    )
    empty_filtered = EmptyState(
        icon="search",
        title="No segment matches",
        text="Clear the filters to see every segment.",
        action_url="/marketing/segments/",
        action_label="Clear filters",
    )

    def read(
        self, *, data: dict[str, Any], sort: str, cursor: str | None, limit: int
    ) -> Page[Segment]:
        filters = selectors.SegmentFilters(q=data.get("q") or None, kind=data.get("kind") or None)
        return selectors.segment_page(
            actor=self.request.user, filters=filters, sort=sort, cursor=cursor, limit=limit
        )

    def extra_context(self, listing: Any, data: dict[str, Any]) -> dict[str, Any]:
        return {"may_create": can(self.request.user, "create", Segment)}


segment_list = SegmentList.as_view()


class SegmentForm(forms.Form):
    name = forms.CharField(max_length=150)
    description = forms.CharField(max_length=500, required=False)
    kind = forms.ChoiceField(
        choices=SegmentKind.choices,
        help_text="Dynamic segments follow your customers as events arrive; a static one "
        "keeps the customers it had when saved.",
    )


def _builder_context(tree: dict[str, Any], errors: dict[str, dict[str, list[str]]]) -> dict:
    fields = registry.segment_fields("customers.customer")
    return {
        "root": rule_builder.render_tree(tree, errors),
        "segment_fields": [(name, f.label) for name, f in fields.items() if name != "q"],
        "event_types": sorted(STANDARD_TYPES),
        "consent_channels": segment_rules.CONSENT_CHANNELS,
        "consent_purposes": segment_rules.CONSENT_PURPOSES,
        "order_measures": segment_rules.ORDER_MEASURE_CHOICES,
        "order_ops": segment_rules.OP_CHOICES,
    }


def _render_builder(
    request: AuthedRequest,
    *,
    segment: Segment | None,
    form: SegmentForm,
    tree: dict[str, Any],
    errors: dict[str, dict[str, list[str]]] | None = None,
    status: int = 200,
    message: str = "",
) -> HttpResponse:
    context = {
        "segment": segment,
        "form": form,
        "message": message,
        **_builder_context(tree, errors or {}),
    }
    return render(request, "marketing/segment_form.html", context, status=status)


def _save(request: AuthedRequest, segment: Segment | None) -> HttpResponse:
    form = SegmentForm(request.POST)
    tree = rule_builder.tree_from_post(request.POST)
    action = request.POST.get("action", "save")
    if action != "save":  # adding or removing a rule: no complaints about the rest yet
        tree = rule_builder.apply_action(tree, action)
        form = SegmentForm(initial={k: request.POST.get(k, "") for k in SegmentForm.base_fields})
        return _render_builder(request, segment=segment, form=form, tree=tree)
    if not form.is_valid():
        return _render_builder(request, segment=segment, form=form, tree=tree, status=422)
    data = services.SegmentInput(rules=tree, **form.cleaned_data)
    try:
        if segment is None:
            saved = services.segment_create(actor=request.user, data=data)
        else:
            saved = services.segment_update(
                actor=request.user,
                segment=segment,
                data=data,
                expected_version=posted_version(request),
            )
    except Conflict as exc:
        return _render_builder(
            request, segment=segment, form=form, tree=tree, status=409, message=exc.message
        )
    except ValidationError as exc:
        errors = exc.message_dict
        for name in ("name", "description", "kind"):
            for message in errors.get(name, []):
                form.add_error(name, message)
        return _render_builder(
            request,
            segment=segment,
            form=form,
            tree=tree,
            errors=rule_builder.errors_by_node(errors),
            status=422,
            message="Fix the rules marked below."
            if any(k.startswith("rules") for k in errors)
            else "",
        )
    n = saved.member_count
    messages.success(request, f"Segment “{saved.name}” saved: {n} member{'s' if n != 1 else ''}.")
    return redirect("marketing:segment_detail", pk=saved.pk)


@login_required
def segment_create(request: AuthedRequest) -> HttpResponse:
    if not can(request.user, "create", Segment):
        raise PermissionDenied("Your role may not create segments.")
    if request.method == "POST":
        return _save(request, None)
    tree = rule_builder.apply_action(rule_builder.fresh(), "add::field")
    form = SegmentForm(initial={"kind": SegmentKind.DYNAMIC})
    return _render_builder(request, segment=None, form=form, tree=tree)


@login_required
def segment_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_detail(actor=request.user, pk=pk)
    if not can(request.user, "edit", segment):
        raise PermissionDenied("You may not change this segment.")
    if request.method == "POST":
        return _save(request, segment)
    form = SegmentForm(
        initial={"name": segment.name, "description": segment.description, "kind": segment.kind}
    )
    return _render_builder(request, segment=segment, form=form, tree=segment.rules)


@login_required
@require_POST
def segment_count(request: AuthedRequest) -> HttpResponse:
    """The builder's live count (htmx, debounced): how many customers the user may see
    match the rules as they stand."""
    tree = rule_builder.tree_from_post(request.POST)
    try:
        count = selectors.segment_count(actor=request.user, rules=tree)
    except ValidationError as exc:
        problems = sum(len(v) for v in exc.message_dict.values())
        return render(request, "marketing/_live_count.html", {"problems": problems})
    return render(request, "marketing/_live_count.html", {"count": count})


@login_required
def segment_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_detail(actor=request.user, pk=pk)
    try:
        page = selectors.segment_members_page(
            actor=request.user, segment=segment, cursor=request.GET.get("cursor"), limit=50
        )
    except ValidationError:
        page = selectors.segment_members_page(actor=request.user, segment=segment, limit=50)
    context = {
        "segment": segment,
        "page": page,
        "may_edit": can(request.user, "edit", segment),
        "may_export": can(request.user, "export", segment),
    }
    return render(request, "marketing/segment_detail.html", context)


@login_required
@require_POST
def segment_rebuild(request: AuthedRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_detail(actor=request.user, pk=pk)
    segment = services.segment_rebuild(actor=request.user, segment=segment)
    messages.success(request, f"Rebuilt: {segment.member_count} members.")
    return redirect("marketing:segment_detail", pk=segment.pk)


@login_required
@require_POST
def segment_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_detail(actor=request.user, pk=pk)
    services.segment_delete(
        actor=request.user, segment=segment, expected_version=posted_version(request)
    )
    messages.success(request, f"Segment “{segment.name}” deleted.")
    return redirect("marketing:segment_list")


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
def segment_export(request: AuthedRequest, pk: int) -> StreamingHttpResponse:
    """The members the user may see as CSV, streamed in keyset pages."""
    segment = selectors.segment_detail(actor=request.user, pk=pk)
    if not can(request.user, "export", segment):
        raise PermissionDenied("You may not export this segment.")
    writer = spreadsheets.csv_writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(["id", "name", "email", "external_id"])
        cursor = None
        while True:
            page = selectors.segment_members_page(
                actor=request.user, segment=segment, cursor=cursor, limit=1000
            )
            for c in page.items:
                yield writer.writerow([c.pk, c.display_name, c.primary_email, c.external_id or ""])
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}.csv"'
    return response


# --- Tracker settings -------------------------------------------------------------------------


class TrackerKeyForm(forms.Form):
    name = forms.CharField(max_length=100, label="Site")
    allowed_origins = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One origin a line, e.g. https://shop.example.com (scheme and host, no path).",
    )
    rate_per_minute = forms.IntegerField(min_value=1, max_value=100_000, initial=600)


@login_required
def tracker_settings(request: AuthedRequest) -> HttpResponse:
    keys = selectors.tracker_keys(actor=request.user)
    form = TrackerKeyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.tracker_key_create(
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    allowed_origins=form.cleaned_data["allowed_origins"].splitlines(),
                    rate_per_minute=form.cleaned_data["rate_per_minute"],
                )
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(name if name in form.fields else None, error)
            else:
                messages.success(request, "Tracker key created: copy its snippet below.")
                return redirect("marketing:tracker")
        status = 422
    script = request.build_absolute_uri("/static/marketing/tracker.js")
    return render(
        request,
        "marketing/tracker.html",
        {"keys": keys, "form": form, "script_url": script},
        status=status,
    )


@login_required
@require_POST
def tracker_toggle(request: AuthedRequest, pk: int) -> HttpResponse:
    key = next((k for k in selectors.tracker_keys(actor=request.user) if k.pk == pk), None)
    if key is None:
        raise Http404
    services.tracker_key_update(actor=request.user, key=key, is_active=not key.is_active)
    return redirect("marketing:tracker")
