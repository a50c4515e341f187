"""Service pages: the inbox with its saved views and queues, a ticket with its
conversation and the reply / note / properties forms, attachments, the breach report,
mailboxes with their health, settings, and the inbound mail webhook. Thin: each action
parses, calls one service and renders."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from rapport.core.errors import Conflict
from rapport.core.http import AuthedRequest
from rapport.core.listing import Column, EmptyState, Listing, ListPage
from rapport.core.object_pages import DetailPage, apply_errors, posted_version
from rapport.core.pagination import Page
from rapport.core.permissions import can, require
from rapport.identity import selectors as identity_selectors
from rapport.service import attachments, clock, selectors, services
from rapport.service.forms import (
    CalendarForm,
    MailboxForm,
    MergeForm,
    NoteForm,
    QueueForm,
    ReplyForm,
    SignatureForm,
    SLAPolicyForm,
    StatusForm,
    TicketFilterForm,
    TicketPropertiesForm,
    format_hours,
    parse_hours,
    set_choices,
)
from rapport.service.models import Ticket

SETTINGS = "service.settings"
MAILBOX_FIELDS = (
    "name",
    "email_address",
    "enabled",
    "queue_id",
    "signature",
    "imap_host",
    "imap_port",
    "imap_security",
    "imap_user",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_user",
    "alert_after_minutes",
)
POLICY_HELP = (
    "Targets count business minutes of the chosen calendar, paused while a ticket is on "
    "hold or waiting on the customer."
)


# --- Inbox ---------------------------------------------------------------------------------


class Inbox(ListPage):
    model = Ticket
    template = "service/inbox.html"
    results_template = "service/_inbox_results.html"
    filter_form = TicketFilterForm
    sorts = selectors.TICKET_SORTS
    default_sort = "-last_message_at"
    page_sizes = (50,)
    columns = (
        Column("Ticket"),
        Column("Customer"),
        Column("Status"),
        Column("Priority"),
        Column("Assignee"),
        Column("Due", sort="due"),
        Column("Last activity", sort="last_message_at"),
    )
    empty = EmptyState(
        icon="inbox",
        title="Nothing in this view",
        text="Tickets arrive from your mailboxes (Service > Mailboxes) or the API. "
        "Each one appears here and on its customer's timeline.",
    )
    empty_filtered = EmptyState(
        icon="search",
        title="No ticket matches",
        text="Try another view or queue, or clear the search.",
        action_url="/service/",
        action_label="Clear filters",
    )

    def make_form(self, params: QueryDict) -> Any:
        form = TicketFilterForm(params or None)
        set_choices(form, "queue", [("", "All queues"), *((q.pk, q.name) for q in self.queues)])
        return form

    @property
    def queues(self) -> list[Any]:
        if not hasattr(self, "_queues"):
            self._queues = selectors.queues()
        return self._queues

    def read(
        self, *, data: dict[str, Any], sort: str, cursor: str | None, limit: int
    ) -> Page[Ticket]:
        filters = selectors.TicketFilters(
            view=data.get("view") or ("all" if data.get("customer") or data.get("q") else "open"),
            queue_id=data.get("queue"),
            priority=data.get("priority") or None,
            customer_id=data.get("customer"),
            q=data.get("q") or None,
        )
        return selectors.ticket_page(
            actor=self.request.user, filters=filters, sort=sort, cursor=cursor, limit=limit
        )

    def is_filtered(self, data: dict[str, Any], params: QueryDict) -> bool:
        return any(data.get(k) for k in ("q", "queue", "priority", "customer"))

    def extra_context(self, listing: Listing, data: dict[str, Any]) -> dict[str, Any]:
        current = data.get("view") or "open"
        return {
            "views": [(key, label, key == current) for key, label in selectors.VIEWS.items()],
            "counts": selectors.view_counts(actor=self.request.user),
            "queues": self.queues,
            "current_view": selectors.VIEWS.get(current, "Open tickets"),
            "now": timezone.now(),
            "may_configure": can(self.request.user, "view", SETTINGS),
        }


inbox = Inbox.as_view()


# --- A ticket --------------------------------------------------------------------------------


class TicketDetail(DetailPage):
    template = "service/ticket_detail.html"
    context_name = "ticket"

    def load(self, pk: int) -> Ticket:
        return selectors.ticket_detail(actor=self.request.user, pk=pk)

    def extra_context(self, ticket: Ticket, /, **forms: Any) -> dict[str, Any]:
        statuses = selectors.statuses()
        status_choices = [(s.pk, s.name) for s in statuses]
        reply = forms.get("reply_form") or ReplyForm()
        set_choices(reply, "status", [("", "Leave as it is"), *status_choices])
        props = forms.get("props_form") or TicketPropertiesForm(
            initial={
                "status": ticket.status_id,
                "priority": ticket.priority,
                "type": ticket.type,
                "queue": ticket.queue_id or 0,
                "owner": ticket.owner_id,
                "tags": ", ".join(ticket.tags),
            }
        )
        owners, _ = identity_selectors.assignee_choices()
        set_choices(props, "status", status_choices)
        set_choices(
            props, "queue", [(0, "No queue"), *((q.pk, q.name) for q in selectors.queues())]
        )
        set_choices(props, "owner", [("", "Unassigned"), *owners])
        return {
            "conversation": selectors.ticket_messages(actor=self.request.user, ticket=ticket),
            "reply_form": reply,
            "note_form": forms.get("note_form") or NoteForm(),
            "props_form": props,
            "merge_form": forms.get("merge_form") or MergeForm(),
            "may_edit": can(self.request.user, "edit", ticket),
            "sla_state": clock.due_state(ticket, now=timezone.now()),
            "collision": forms.get("collision"),
        }


ticket_detail = TicketDetail.as_view()


def _render_ticket(request: AuthedRequest, pk: int, **forms: Any) -> HttpResponse:
    page = TicketDetail(request)
    return page.render(page.load(pk), status=409 if forms.get("collision") else 422, **forms)


@login_required
@require_POST
def ticket_reply(request: AuthedRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_detail(actor=request.user, pk=pk)
    form = ReplyForm(request.POST)
    set_choices(form, "status", [("", ""), *((s.pk, s.name) for s in selectors.statuses())])
    if form.is_valid():
        try:
            services.ticket_reply(
                actor=request.user,
                ticket=ticket,
                body=form.cleaned_data["body"],
                status_id=form.cleaned_data["status"],
                expected_version=posted_version(request),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        except Conflict:
            form.add_error(
                None,
                "Someone replied to or changed this ticket since you opened it. Read the "
                "conversation below, then send your reply again (your text is kept).",
            )
            return _render_ticket(request, pk, reply_form=form, collision=True)
        else:
            messages.success(request, "Reply sent to the customer.")
            return redirect(ticket)
    return _render_ticket(request, pk, reply_form=form)


@login_required
@require_POST
def ticket_note(request: AuthedRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_detail(actor=request.user, pk=pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.ticket_add_note(
                actor=request.user, ticket=ticket, body=form.cleaned_data["body"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Note added.")
            return redirect(ticket)
    return _render_ticket(request, pk, note_form=form)


@login_required
@require_POST
def ticket_properties(request: AuthedRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_detail(actor=request.user, pk=pk)
    form = TicketPropertiesForm(request.POST)
    owners, _ = identity_selectors.assignee_choices()
    set_choices(form, "status", [(s.pk, s.name) for s in selectors.statuses()])
    set_choices(form, "queue", [(0, ""), *((q.pk, q.name) for q in selectors.queues())])
    set_choices(form, "owner", [("", ""), *owners])
    if form.is_valid():
        data = form.cleaned_data
        version = posted_version(request)
        try:
            ticket = services.ticket_update(
                actor=request.user,
                ticket=ticket,
                data=services.TicketInput(
                    priority=data["priority"],
                    type=data["type"],
                    queue_id=data["queue"] or 0,
                    tags=data["tags"].split(","),
                ),
                expected_version=version,
            )
            if data["owner"] != ticket.owner_id:
                ticket = services.ticket_assign(
                    actor=request.user,
                    ticket=ticket,
                    owner_id=data["owner"],
                    team_id=ticket.team_id,
                )
            if data["status"] != ticket.status_id:
                services.ticket_set_status(
                    actor=request.user, ticket=ticket, status_id=data["status"]
                )
        except ValidationError as exc:
            apply_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Ticket updated.")
            return redirect(ticket)
    return _render_ticket(request, pk, props_form=form)


@login_required
@require_POST
def ticket_merge(request: AuthedRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_detail(actor=request.user, pk=pk)
    form = MergeForm(request.POST)
    if form.is_valid():
        try:
            target = selectors.ticket_detail(actor=request.user, pk=form.cleaned_data["target"])
            services.ticket_merge(actor=request.user, source=ticket, target=target)
        except ValidationError as exc:
            form.add_error("target", " ".join(exc.messages))
        except Exception as exc:  # Http404: a ticket they may not see is no merge target
            if exc.__class__.__name__ != "Http404":
                raise
            form.add_error("target", "There is no such ticket you may see.")
        else:
            messages.success(request, f"Ticket #{pk} merged into #{target.pk}.")
            return redirect(target)
    return _render_ticket(request, pk, merge_form=form)


@login_required
def attachment(request: AuthedRequest, pk: int) -> FileResponse:
    """An attachment, for users who may see its ticket; always as a download (never
    rendered inline in our origin)."""
    found = selectors.attachment_for(actor=request.user, pk=pk)
    response = FileResponse(
        attachments.path_of(found).open("rb"),
        as_attachment=True,
        filename=found.filename,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Reports ---------------------------------------------------------------------------------


@login_required
def breach_report(request: AuthedRequest) -> HttpResponse:
    if not can(request.user, "view", "service.ticket"):
        raise PermissionDenied("Your role does not include tickets.")
    try:
        days = max(1, min(int(request.GET.get("days", 30)), 365))
    except ValueError:
        days = 30
    report = selectors.breach_report(
        actor=request.user, since=timezone.now() - dt.timedelta(days=days)
    )
    return render(request, "service/breach_report.html", {**report, "days": days})


# --- Settings --------------------------------------------------------------------------------


@login_required
def settings_page(request: AuthedRequest) -> HttpResponse:
    overview = selectors.settings_overview(actor=request.user)
    return render(
        request,
        "service/settings.html",
        {
            **overview,
            "queue_form": QueueForm(),
            "status_form": StatusForm(),
            "now": timezone.now(),
        },
    )


@login_required
def mailboxes(request: AuthedRequest) -> HttpResponse:
    """Mailbox health: last sync, last success, backlog, errors."""
    overview = selectors.settings_overview(actor=request.user)
    now = timezone.now()
    rows = []
    for box in overview["mailboxes"]:
        since = box.last_success_at or box.created_at
        stale = box.polls and now - since > dt.timedelta(minutes=box.alert_after_minutes)
        rows.append({"mailbox": box, "stale": stale, "folders": list(box.folder_states.all())})
    return render(request, "service/mailboxes.html", {"rows": rows, "now": now})


def _mailbox_initial(box: Any) -> dict[str, Any]:
    fields = MAILBOX_FIELDS
    return {**{f: getattr(box, f) for f in fields}, "folders": "\n".join(box.folders)}


@login_required
def mailbox_form(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    overview = selectors.settings_overview(actor=request.user)
    require(request.user, "edit", SETTINGS)
    box = next((m for m in overview["mailboxes"] if m.pk == pk), None) if pk else None
    if pk and box is None:
        return HttpResponse("No such mailbox.", status=404)
    form = MailboxForm(request.POST or None, initial=_mailbox_initial(box) if box else None)
    set_choices(form, "queue_id", [("", "No queue"), *((q.pk, q.name) for q in overview["queues"])])
    token = None
    if request.method == "POST" and "rotate_token" in request.POST and box is not None:
        token = services.mailbox_rotate_webhook_token(actor=request.user, mailbox=box)
        form = MailboxForm(initial=_mailbox_initial(box))
        set_choices(
            form, "queue_id", [("", "No queue"), *((q.pk, q.name) for q in overview["queues"])]
        )
    elif request.method == "POST" and form.is_valid():
        data = {**form.cleaned_data}
        data["folders"] = [f for f in data["folders"].splitlines() if f.strip()]
        try:
            saved = services.mailbox_save(
                actor=request.user, mailbox=box, data=services.MailboxInput(**data)
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Mailbox {saved.name} saved.")
            return redirect("service:mailboxes")
    webhook_url = (
        request.build_absolute_uri(reverse("service:inbound", args=[box.pk])) if box else ""
    )
    return render(
        request,
        "service/settings_form.html",
        {
            "form": form,
            "title": f"Mailbox {box.name}" if box else "New mailbox",
            "back": reverse("service:mailboxes"),
            "token": token,
            "webhook_url": webhook_url,
            "mailbox": box,
        },
        status=422 if request.method == "POST" and form.errors else 200,
    )


@login_required
def calendar_form(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    overview = selectors.settings_overview(actor=request.user)
    require(request.user, "edit", SETTINGS)
    cal = next((c for c in overview["calendars"] if c.pk == pk), None) if pk else None
    initial = None
    if cal is not None:
        initial = {
            "name": cal.name,
            "time_zone": cal.time_zone,
            "hours": format_hours(cal.weekly_hours),
            "holidays": "\n".join(cal.holidays),
        }
    form = CalendarForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.calendar_save(
                actor=request.user,
                calendar=cal,
                name=data["name"],
                time_zone=data["time_zone"].strip(),
                weekly_hours=parse_hours(data["hours"]),
                holidays=[d.strip() for d in data["holidays"].splitlines() if d.strip()],
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and "weekly_hours" in exc.error_dict:
                form.add_error("hours", exc.error_dict.pop("weekly_hours"))
            if hasattr(exc, "error_dict") and "holidays" in exc.error_dict:
                form.add_error("holidays", exc.error_dict.pop("holidays"))
            if not hasattr(exc, "error_dict") or exc.error_dict:
                apply_errors(form, exc)
        else:
            messages.success(request, "Business calendar saved.")
            return redirect("service:settings")
    return render(
        request,
        "service/settings_form.html",
        {
            "form": form,
            "title": f"Calendar {cal.name}" if cal else "New business calendar",
            "back": reverse("service:settings"),
        },
        status=422 if request.method == "POST" and form.errors else 200,
    )


@login_required
def policy_form(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    overview = selectors.settings_overview(actor=request.user)
    require(request.user, "edit", SETTINGS)
    policy = next((p for p in overview["policies"] if p.pk == pk), None) if pk else None
    names = "name calendar_id priority customer_tag first_response_minutes next_response_minutes"
    names += " resolution_minutes warn_before_minutes position escalate_to_id escalate_queue_id"
    initial = {n: getattr(policy, n) for n in names.split()} if policy else None
    form = SLAPolicyForm(request.POST or None, initial=initial)
    owners, _ = identity_selectors.assignee_choices()
    set_choices(form, "calendar_id", [(c.pk, c.name) for c in overview["calendars"]])
    set_choices(form, "escalate_to_id", [("", "Nobody"), *owners])
    set_choices(
        form, "escalate_queue_id", [("", "No queue"), *((q.pk, q.name) for q in overview["queues"])]
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.sla_policy_save(
                actor=request.user, policy=policy, data=services.SLAPolicyInput(**form.cleaned_data)
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "SLA policy saved.")
            return redirect("service:settings")
    return render(
        request,
        "service/settings_form.html",
        {
            "form": form,
            "title": f"SLA policy {policy.name}" if policy else "New SLA policy",
            "back": reverse("service:settings"),
            "help": POLICY_HELP,
        },
        status=422 if request.method == "POST" and form.errors else 200,
    )


@login_required
@require_POST
def queue_add(request: AuthedRequest) -> HttpResponse:
    form = QueueForm(request.POST)
    if form.is_valid():
        try:
            services.queue_save(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, "Queue not saved: " + " ".join(exc.messages))
        else:
            messages.success(request, "Queue added.")
    else:
        messages.error(request, "Give the queue a name.")
    return redirect("service:settings")


@login_required
@require_POST
def status_add(request: AuthedRequest) -> HttpResponse:
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            services.status_save(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, "Status not saved: " + " ".join(exc.messages))
        else:
            messages.success(request, "Status added.")
    else:
        messages.error(request, "Give the status a name and a category.")
    return redirect("service:settings")


@login_required
def signature(request: AuthedRequest) -> HttpResponse:
    form = SignatureForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.agent_signature_save(actor=request.user, signature=form.cleaned_data["signature"])
        messages.success(request, "Your signature is saved.")
        return redirect("service:signature")
    if request.method == "GET":
        form = SignatureForm(initial={"signature": selectors.signature_of(actor=request.user)})
    return render(
        request,
        "service/settings_form.html",
        {
            "form": form,
            "title": "My signature",
            "back": reverse("service:inbox"),
            "help": "Added under your replies, above the mailbox's own signature.",
        },
    )


# --- Inbound webhook ---------------------------------------------------------------------------


@csrf_exempt
@require_POST
def inbound(request: HttpRequest, pk: int) -> JsonResponse:
    """Raw MIME pushed by a mail provider, authenticated by the mailbox's secret token
    (Authorization: Bearer <token>). Idempotent: a retried push is a duplicate."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    box = (
        selectors.mailbox_for_webhook(pk=pk, token_hash=services.webhook_token_hash(token))
        if token
        else None
    )
    if box is None:
        return JsonResponse({"detail": "Unknown mailbox or wrong token."}, status=401)
    if not request.body:
        return JsonResponse({"detail": "Send the raw message as the request body."}, status=400)
    if len(request.body) > 40 * 1024 * 1024:
        return JsonResponse({"detail": "The message is too large."}, status=413)
    result = services.email_ingest(mailbox=box, raw=request.body)
    return JsonResponse(
        {
            "outcome": result.outcome,
            "ticket_id": result.ticket.pk if result.ticket else None,
            "reason": result.reason,
        },
        status=201 if result.outcome in ("created", "appended") else 200,
    )
