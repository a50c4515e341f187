"""Forms of the service pages (choices filled by the views from selectors)."""

from __future__ import annotations

from typing import Any

from django import forms

from rapport.core.params import RecordIdField
from rapport.service.models import Priority, Security, StatusCategory, TicketType
from rapport.service.selectors import VIEWS


def set_choices(form: forms.Form, name: str, choices: list[tuple[Any, str]]) -> None:
    form.fields[name].choices = choices  # type: ignore[attr-defined]


class TicketFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Subject or #number"}),
    )
    view = forms.ChoiceField(
        label="View", required=False, choices=[("", "Open tickets"), *VIEWS.items()]
    )
    queue = forms.TypedChoiceField(label="Queue", required=False, coerce=int, empty_value=None)
    priority = forms.ChoiceField(
        label="Priority", required=False, choices=[("", "Any priority"), *Priority.choices]
    )
    sort = forms.ChoiceField(
        label="Order by",
        required=False,
        choices=[
            ("", "Latest activity"),
            ("due", "Due soonest"),
            ("-created", "Newest"),
            ("created", "Oldest"),
        ],
    )
    customer = RecordIdField(required=False, widget=forms.HiddenInput)


class ReplyForm(forms.Form):
    body = forms.CharField(label="Reply to the customer", widget=forms.Textarea(attrs={"rows": 6}))
    status = forms.TypedChoiceField(
        label="Then set status", required=False, coerce=int, empty_value=None
    )


class NoteForm(forms.Form):
    body = forms.CharField(label="Internal note", widget=forms.Textarea(attrs={"rows": 3}))


class TicketPropertiesForm(forms.Form):
    status = forms.TypedChoiceField(label="Status", coerce=int)
    priority = forms.ChoiceField(label="Priority", choices=Priority.choices)
    type = forms.ChoiceField(label="Type", choices=TicketType.choices)
    queue = forms.TypedChoiceField(label="Queue", required=False, coerce=int, empty_value=None)
    owner = forms.TypedChoiceField(label="Assignee", required=False, coerce=int, empty_value=None)
    tags = forms.CharField(label="Tags", required=False, help_text="Separated by commas.")


class MergeForm(forms.Form):
    target = forms.IntegerField(label="Merge into ticket #", min_value=1)


class MailboxForm(forms.Form):
    name = forms.CharField(max_length=100)
    email_address = forms.CharField(label="Address", max_length=254)
    enabled = forms.BooleanField(required=False, initial=True)
    queue_id = forms.TypedChoiceField(
        label="Queue for new tickets", required=False, coerce=int, empty_value=None
    )
    signature = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    imap_host = forms.CharField(label="IMAP server", required=False)
    imap_port = forms.IntegerField(label="IMAP port", initial=993, min_value=1, max_value=65535)
    imap_security = forms.ChoiceField(label="IMAP security", choices=Security.choices)
    imap_user = forms.CharField(label="IMAP user", required=False)
    imap_password = forms.CharField(
        label="IMAP password",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted. Leave empty to keep the current one.",
    )
    folders = forms.CharField(
        label="Folders to poll",
        required=False,
        initial="INBOX",
        help_text="One per line; INBOX when empty.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    smtp_host = forms.CharField(
        label="SMTP server", required=False, help_text="Empty: the site's mail server."
    )
    smtp_port = forms.IntegerField(label="SMTP port", initial=587, min_value=1, max_value=65535)
    smtp_security = forms.ChoiceField(
        label="SMTP security", choices=Security.choices, initial="starttls"
    )
    smtp_user = forms.CharField(label="SMTP user", required=False)
    smtp_password = forms.CharField(
        label="SMTP password",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted. Leave empty to keep the current one.",
    )
    alert_after_minutes = forms.IntegerField(
        label="Alert after (minutes without a sync)", initial=30, min_value=5
    )


class CalendarForm(forms.Form):
    name = forms.CharField(max_length=100)
    time_zone = forms.CharField(initial="UTC", help_text="An IANA zone, e.g. Europe/Berlin.")
    hours = forms.CharField(
        label="Working hours",
        widget=forms.Textarea(attrs={"rows": 7}),
        initial="\n".join(f"{d} 09:00-17:00" for d in ("Mon", "Tue", "Wed", "Thu", "Fri")),
        help_text="One line per day: Mon 09:00-12:00, 13:00-17:00. Days not listed are off.",
    )
    holidays = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One date per line (2026-12-25).",
    )


class SLAPolicyForm(forms.Form):
    name = forms.CharField(max_length=100)
    calendar_id = forms.TypedChoiceField(label="Business calendar", coerce=int)
    priority = forms.ChoiceField(required=False, choices=[("", "Any priority"), *Priority.choices])
    customer_tag = forms.CharField(
        label="Customer tier (tag)", required=False, help_text="Empty: any customer."
    )
    first_response_minutes = forms.IntegerField(
        label="First response (business minutes)", required=False, min_value=1
    )
    next_response_minutes = forms.IntegerField(
        label="Next response (business minutes)", required=False, min_value=1
    )
    resolution_minutes = forms.IntegerField(
        label="Resolution (business minutes)", required=False, min_value=1
    )
    warn_before_minutes = forms.IntegerField(label="Warn before (minutes)", initial=60, min_value=0)
    position = forms.IntegerField(
        initial=0, min_value=0, help_text="Lower comes first when several match."
    )
    escalate_to_id = forms.TypedChoiceField(
        label="On breach, assign to", required=False, coerce=int, empty_value=None
    )
    escalate_queue_id = forms.TypedChoiceField(
        label="On breach, move to queue", required=False, coerce=int, empty_value=None
    )


class QueueForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, max_length=300)


class StatusForm(forms.Form):
    name = forms.CharField(max_length=60)
    category = forms.ChoiceField(choices=StatusCategory.choices)
    position = forms.IntegerField(initial=50, min_value=0)


class SignatureForm(forms.Form):
    signature = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_hours(text: str) -> dict[str, list[list[str]]]:
    """ "Mon 09:00-12:00, 13:00-17:00" lines -> {"0": [["09:00", "12:00"], …]}."""
    weekly: dict[str, list[list[str]]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        day, _, spans = line.partition(" ")
        key = day[:3].lower()
        if key not in DAYS:
            raise forms.ValidationError(f"{day!r} is not a weekday (Mon, Tue, …).")
        for span in spans.split(","):
            start, sep, end = span.strip().partition("-")
            if not sep:
                raise forms.ValidationError(f"Write hours as 09:00-17:00, not {span.strip()!r}.")
            weekly.setdefault(str(DAYS.index(key)), []).append([start.strip(), end.strip()])
    return weekly


def format_hours(weekly: dict[str, list[list[str]]]) -> str:
    return "\n".join(
        f"{DAYS[int(d)].title()} " + ", ".join(f"{s}-{e}" for s, e in spans)
        for d, spans in sorted(weekly.items())
    )
