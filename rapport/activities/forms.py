"""Activity forms: they parse input; the services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms

from rapport.activities.models import (
    ActivityKind,
    ActivityStatus,
    CallDirection,
    CallOutcome,
    Priority,
)
from rapport.core.params import RecordIdField
from rapport.core.widgets import DateInput


class DateTimeInput(forms.DateTimeInput):
    """The browser's date-and-time picker; its value is ISO 8601 whatever the locale
    (as core's DateInput), read in the site's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, object] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


def _choices(enum: Any, blank: str) -> list[tuple[Any, str]]:
    return [("", blank), *[(v, label) for v, label in enum.choices if v != ""]]


class ActivityFilterForm(forms.Form):
    q = forms.CharField(
        label="Subject", required=False, widget=forms.TextInput(attrs={"type": "search"})
    )
    kind = forms.ChoiceField(choices=_choices(ActivityKind, "Any kind"), required=False)
    status = forms.ChoiceField(choices=_choices(ActivityStatus, "Any status"), required=False)
    owner = forms.ChoiceField(label="Owner", required=False)
    due_from = forms.DateField(label="Due from", required=False, widget=DateInput())
    due_to = forms.DateField(label="Due to", required=False, widget=DateInput())
    customer = RecordIdField(required=False, widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, owners: list[tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["owner"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Anyone"), ("me", "Me"), *(owners or [])]


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(choices=_choices(ActivityKind, "Choose…")[1:], initial="task")
    subject = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"autofocus": True}))
    customer = RecordIdField(
        label="Customer id", required=False, help_text="Leave empty for a personal task."
    )
    priority = forms.TypedChoiceField(choices=Priority.choices, coerce=int, initial=Priority.NORMAL)
    due_at = forms.DateTimeField(
        label="Due",
        required=False,
        widget=DateTimeInput(),
        help_text="Empty: end of today. A meeting is due when it starts.",
    )
    starts_at = forms.DateTimeField(label="Starts", required=False, widget=DateTimeInput())
    ends_at = forms.DateTimeField(label="Ends", required=False, widget=DateTimeInput())
    reminder_at = forms.DateTimeField(
        label="Remind me at",
        required=False,
        widget=DateTimeInput(),
        help_text="In the app and by e-mail.",
    )
    location = forms.CharField(max_length=255, required=False, help_text="Meetings.")
    attendee_emails = forms.CharField(
        label="Attendees' e-mails",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Meetings: one address per line or separated by commas; each gets a "
        "calendar invitation.",
    )
    call_direction = forms.ChoiceField(
        label="Call direction", choices=_choices(CallDirection, "—"), required=False
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)

    def clean_attendee_emails(self) -> list[str]:
        raw = self.cleaned_data.get("attendee_emails") or ""
        return [p.strip() for p in raw.replace(",", "\n").splitlines() if p.strip()]


class CallLogForm(forms.Form):
    """The quick "log a call" form on the customer page."""

    subject = forms.CharField(max_length=200, initial="Call")
    direction = forms.ChoiceField(choices=[("out", "Outbound"), ("in", "Inbound")], initial="out")
    outcome = forms.ChoiceField(choices=_choices(CallOutcome, "—"), required=False)
    duration_minutes = forms.IntegerField(
        label="Minutes", min_value=0, max_value=24 * 60, required=False
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    recording_url = forms.URLField(label="Recording link", required=False, assume_scheme="https")


class QuickTaskForm(forms.Form):
    """The quick "add task" form on the customer page."""

    subject = forms.CharField(max_length=200)
    due_at = forms.DateTimeField(label="Due", required=False, widget=DateTimeInput())
