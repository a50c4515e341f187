"""Activity pages: My day, the activity list, an activity's page and form, the quick
actions on the customer page, the .ics download and the notifications. Thin: each parses
the request, calls one selector or service and renders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from rapport.activities import selectors, services
from rapport.activities.forms import (
    ActivityFilterForm,
    ActivityForm,
    CallLogForm,
    QuickTaskForm,
)
from rapport.activities.models import Activity, ActivityKind
from rapport.activities.panels import customer_panel_context
from rapport.core.errors import Conflict
from rapport.core.http import AuthedRequest
from rapport.core.listing import Column, EmptyState, Listing, ListPage, validation_text
from rapport.core.object_pages import DetailPage, FormPage, posted_version
from rapport.core.pagination import Page
from rapport.core.permissions import can
from rapport.customers import selectors as customer_selectors

ACTIVITY_TYPE = services.ACTIVITY_TYPE


def _require_view(request: AuthedRequest) -> None:
    if not can(request.user, "view", ACTIVITY_TYPE):
        raise PermissionDenied("Your role does not include activities.")


# --- My day ------------------------------------------------------------------------------


@login_required
@require_GET
def my_day(request: AuthedRequest) -> HttpResponse:
    _require_view(request)
    day = selectors.my_day(actor=request.user)
    return render(
        request,
        "activities/my_day.html",
        {"day": day, "may_create": can(request.user, "create", ACTIVITY_TYPE)},
    )


@login_required
@require_GET
def overdue_badge(request: AuthedRequest) -> HttpResponse:
    n = (
        selectors.overdue_count(actor=request.user)
        if can(request.user, "view", ACTIVITY_TYPE)
        else 0
    )
    return render(request, "activities/_badge.html", {"n": n, "label": "overdue"})


# --- The list ----------------------------------------------------------------------------


def _owner_choices() -> list[tuple[str, str]]:
    users = get_user_model().objects.filter(is_active=True).order_by("full_name", "email")
    return [(str(u.pk), str(u)) for u in users.only("pk", "full_name", "email")[:200]]


class ActivityList(ListPage):
    model = Activity
    template = "activities/activity_list.html"
    results_template = "activities/_activity_results.html"
    filter_form = ActivityFilterForm
    sorts = selectors.ACTIVITY_SORTS
    default_sort = "due"
    page_sizes = (50, 100)
    columns = (
        Column("Activity"),
        Column("Customer"),
        Column("Due", sort="due"),
        Column("Priority", sort="priority"),
        Column("Owner"),
        Column("Status"),
    )
    empty = EmptyState(
        icon="calendar-check",
        title="No activities yet",
        text="Plan a task, a call or a meeting, or log a call from a customer's page.",
        action_url="/activities/new/",
        action_label="New activity",
    )
    empty_filtered = EmptyState(
        icon="search",
        title="No activity matches these filters",
        text="Try another status or a wider due range, or clear the filters.",
        action_url="/activities/list/",
        action_label="Clear filters",
    )

    def make_form(self, params: QueryDict) -> ActivityFilterForm:
        return ActivityFilterForm(params or None, owners=_owner_choices())

    def read(
        self, *, data: dict[str, Any], sort: str, cursor: str | None, limit: int
    ) -> Page[Activity]:
        owner = data.get("owner") or ""
        filters = selectors.ActivityFilters(
            q=data.get("q") or None,
            kind=data.get("kind") or None,
            status=data.get("status") or None,
            owner_id=self.request.user.pk if owner == "me" else int(owner) if owner else None,
            due_from=data.get("due_from"),
            due_to=data.get("due_to"),
            customer_id=data.get("customer"),
        )
        return selectors.activity_page(
            actor=self.request.user, filters=filters, sort=sort, cursor=cursor, limit=limit
        )

    def extra_context(self, listing: Listing, data: dict[str, Any]) -> dict[str, Any]:
        return {"may_create": can(self.request.user, "create", Activity)}


activity_list = ActivityList.as_view()


# --- One activity ------------------------------------------------------------------------


class ActivityDetail(DetailPage):
    template = "activities/activity_detail.html"
    context_name = "activity"

    def load(self, pk: int) -> Activity:
        return selectors.activity_detail(actor=self.request.user, pk=pk)

    def extra_context(self, activity: Activity, /, **extra: Any) -> dict[str, Any]:
        user = self.request.user
        return {
            "attendees": list(activity.attendees.all()),
            "may_edit": can(user, "edit", activity),
            "may_delete": can(user, "delete", activity),
            "may_see_history": can(user, "view", activity),
            **extra,
        }


activity_detail = ActivityDetail.as_view()


class ActivityFormPage(FormPage):
    form_class = ActivityForm
    template = "activities/activity_form.html"
    model = Activity
    context_name = "activity"
    denied_create = "Your role may not add activities."
    denied_edit = "Your role may not change this activity."

    def load(self, pk: int) -> Activity:
        return selectors.activity_detail(actor=self.request.user, pk=pk)

    def make_form(self, obj: Any) -> ActivityForm:
        if self.request.method == "POST":
            return ActivityForm(self.request.POST)
        if obj is not None:
            return ActivityForm(initial=self.initial(obj))
        initial: dict[str, Any] = {}
        for name in ("kind", "customer"):
            if self.request.GET.get(name):
                initial[name] = self.request.GET[name]
        return ActivityForm(initial=initial)

    def initial(self, activity: Activity) -> dict[str, Any]:
        local = {
            name: timezone.localtime(getattr(activity, name)) if getattr(activity, name) else None
            for name in ("due_at", "starts_at", "ends_at", "reminder_at")
        }
        return {
            "kind": activity.kind,
            "subject": activity.subject,
            "customer": activity.customer_id,
            "priority": activity.priority,
            "location": activity.location,
            "attendee_emails": "\n".join(activity.attendee_emails),
            "call_direction": activity.call_direction,
            "notes": activity.notes,
            **local,
        }

    def save(self, form: Any, activity: Any, *, expected_version: int | None) -> Activity:
        d = form.cleaned_data
        clear = [
            name
            for name in ("starts_at", "ends_at", "reminder_at")
            if activity is not None and d.get(name) is None and getattr(activity, name)
        ]
        if activity is not None and not d.get("customer") and activity.customer_id:
            clear.append("customer_id")
        data = services.ActivityInput(
            kind=d["kind"],
            subject=d["subject"],
            notes=d.get("notes") or "",
            customer_id=d.get("customer"),
            priority=d["priority"],
            due_at=d.get("due_at"),
            starts_at=d.get("starts_at"),
            ends_at=d.get("ends_at"),
            reminder_at=d.get("reminder_at"),
            location=d.get("location") or "",
            attendee_emails=d.get("attendee_emails") or [],
            call_direction=d.get("call_direction") or "",
            clear=clear,
        )
        if activity is None:
            return services.activity_create(actor=self.request.user, data=data)
        return services.activity_update(
            actor=self.request.user, activity=activity, data=data, expected_version=expected_version
        )

    def success_message(self, obj: Any, *, created: bool) -> str:
        return f"{obj.get_kind_display()} {'added' if created else 'saved'}."

    def extra_context(self, form: Any, obj: Any) -> dict[str, Any]:
        return {"time_zone": settings.TIME_ZONE}


activity_form = ActivityFormPage.as_view()

ACTIONS: dict[str, tuple[Callable[..., Activity], str]] = {
    "complete": (services.activity_complete, "Marked done."),
    "reopen": (services.activity_reopen, "Opened again."),
    "cancel": (services.activity_cancel, "Cancelled."),
}


@login_required
@require_POST
def activity_action(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    """Complete, reopen or cancel. From My day (htmx) the answer is the item itself, done
    or with the error beside it (422); from the activity's page a redirect back."""
    if action not in ACTIONS:
        raise Http404("No such action.")
    activity = selectors.activity_detail(actor=request.user, pk=pk)
    service, done = ACTIONS[action]
    error = ""
    try:
        activity = service(
            actor=request.user, activity=activity, expected_version=posted_version(request)
        )
    except ValidationError as exc:
        error = validation_text(exc)
    except Conflict as exc:
        error = exc.message
    except PermissionDenied as exc:
        error = str(exc) or "You may not change this activity."
    if request.htmx:
        return render(
            request,
            "activities/_my_day_item.html",
            {"activity": activity, "error": error, "just_done": not error},
            status=422 if error else 200,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect(activity.get_absolute_url())


@login_required
@require_POST
def activity_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    activity = selectors.activity_detail(actor=request.user, pk=pk)
    try:
        services.activity_delete(
            actor=request.user, activity=activity, expected_version=posted_version(request)
        )
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect(activity.get_absolute_url())
    messages.success(request, f"{activity.get_kind_display()} deleted.")
    return redirect("activities:list")


@login_required
@require_GET
def activity_ics(request: AuthedRequest, pk: int) -> HttpResponse:
    """The meeting for the user's own calendar (a cancelled one as its cancellation)."""
    activity = selectors.activity_detail(actor=request.user, pk=pk)
    if activity.kind != ActivityKind.MEETING:
        raise Http404("Only meetings have a calendar file.")
    method = "CANCEL" if activity.status == "cancelled" else "REQUEST"
    ics = services.calendar_for(activity, method=method)
    response = HttpResponse(ics, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="meeting-{activity.pk}.ics"'
    return response


# --- Quick actions on the customer page ----------------------------------------------------


def _panel(
    request: AuthedRequest, customer: Any, *, status: int = 200, **forms: Any
) -> HttpResponse:
    context = customer_panel_context(actor=request.user, customer=customer) or {}
    return render(request, "activities/_customer_panel.html", {**context, **forms}, status=status)


def _visible_customer(request: AuthedRequest, customer_pk: int) -> Any:
    customer = customer_selectors.customer_list(actor=request.user).filter(pk=customer_pk).first()
    if customer is None:
        raise Http404("No such customer, or you may not see it.")
    return customer


def _quick(
    request: AuthedRequest, customer: Any, form: Any, key: str, write: Any, done: str
) -> HttpResponse:
    if form.is_valid():
        try:
            write(form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, validation_text(exc))
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            if request.htmx:
                return _panel(request, customer, message=done)
            messages.success(request, done)
            return redirect(customer.get_absolute_url())
    if request.htmx:
        return _panel(request, customer, status=422, **{key: form, "open_form": key})
    for error in form.non_field_errors() or [
        f"{form[name].label}: {errs[0]}" for name, errs in form.errors.items()
    ]:
        messages.error(request, error)
    return redirect(customer.get_absolute_url())


@login_required
@require_POST
def customer_log_call(request: AuthedRequest, customer_pk: int) -> HttpResponse:
    customer = _visible_customer(request, customer_pk)
    form = CallLogForm(request.POST, auto_id="call_%s")

    def write(d: dict[str, Any]) -> Activity:
        minutes = d.get("duration_minutes")
        return services.call_log(
            actor=request.user,
            customer_id=customer.pk,
            subject=d["subject"],
            direction=d["direction"],
            duration_seconds=minutes * 60 if minutes is not None else None,
            outcome=d.get("outcome") or "",
            notes=d.get("notes") or "",
            recording_url=d.get("recording_url") or "",
        )

    return _quick(request, customer, form, "call_form", write, "Call logged.")


@login_required
@require_POST
def customer_add_task(request: AuthedRequest, customer_pk: int) -> HttpResponse:
    customer = _visible_customer(request, customer_pk)
    form = QuickTaskForm(request.POST, auto_id="task_%s")

    def write(d: dict[str, Any]) -> Activity:
        return services.activity_create(
            actor=request.user,
            data=services.ActivityInput(
                kind=ActivityKind.TASK,
                subject=d["subject"],
                customer_id=customer.pk,
                due_at=d.get("due_at"),
            ),
        )

    return _quick(request, customer, form, "task_form", write, "Task added.")


# --- Notifications -----------------------------------------------------------------------


@login_required
@require_GET
def notifications(request: AuthedRequest) -> HttpResponse:
    rows = selectors.notifications(actor=request.user)
    return render(request, "activities/notifications.html", {"notifications": rows})


@login_required
@require_POST
def notification_open(request: AuthedRequest, pk: int) -> HttpResponse:
    """Mark it read and follow its link (only the recipient's own: others are a 404)."""
    notification = selectors.notification(actor=request.user, pk=pk)
    services.notification_mark_read(actor=request.user, notification_id=notification.pk)
    return redirect(notification.url or reverse("activities:notifications"))


@login_required
@require_POST
def notifications_read_all(request: AuthedRequest) -> HttpResponse:
    n = services.notifications_mark_all_read(actor=request.user)
    messages.success(request, f"{n} notification{'s' if n != 1 else ''} marked read.")
    return redirect("activities:notifications")


@login_required
@require_GET
def unread_badge(request: AuthedRequest) -> HttpResponse:
    n = selectors.unread_count(actor=request.user)
    return render(request, "activities/_badge.html", {"n": n, "label": "unread"})
