"""What activity writes take, and the checks every write shares (values, the customer,
the related record, assignment)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from rapport.activities.models import (
    Activity,
    ActivityKind,
    CallDirection,
    CallOutcome,
    Priority,
)
from rapport.core import registry
from rapport.core.permissions import Scope, require_assignees_exist, scope_queryset
from rapport.customers import normalize
from rapport.customers import selectors as customer_selectors

ACTIVITY_TYPE = "activities.activity"
MEETING_DEFAULT_LENGTH = dt.timedelta(minutes=30)
MAX_ATTENDEES = 100
# Fields `ActivityInput.clear` may empty on update (None elsewhere means "leave as is").
CLEARABLE = (
    "customer_id",
    "related",
    "starts_at",
    "ends_at",
    "reminder_at",
    "call_duration_seconds",
)


@dataclass
class ActivityInput:
    """Writable activity fields. On create, None takes the default; on update, None leaves
    the field as it is and `clear` names the optional fields to empty.

    Times are time-zone aware; a naive time is read in the site's time zone
    (settings.TIME_ZONE), as the forms show them. `due_at` defaults to the meeting's start,
    or for a task and a call to the end of today."""

    kind: str | None = None
    subject: str | None = None
    notes: str | None = None
    customer_id: int | None = None
    related_type: str | None = None
    related_id: str | None = None
    priority: int | None = None
    due_at: dt.datetime | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    reminder_at: dt.datetime | None = None
    call_direction: str | None = None
    call_duration_seconds: int | None = None
    call_outcome: str | None = None
    recording_url: str | None = None
    location: str | None = None
    attendee_ids: list[int] | None = None
    attendee_emails: list[str] | None = None
    owner_id: int | None = None
    team_id: int | None = None
    clear: list[str] = field(default_factory=list)


def site_zone() -> dt.tzinfo:
    """The time zone times are shown and entered in. Users have no time zone setting of
    their own yet (identity keeps only a locale), so this is the site's."""
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def aware(value: dt.datetime) -> dt.datetime:
    if timezone.is_naive(value):
        return timezone.make_aware(value, site_zone())
    return value


def end_of_today() -> dt.datetime:
    local = timezone.localtime(timezone.now(), site_zone())
    return local.replace(hour=23, minute=59, second=0, microsecond=0)


def _add(errors: dict[str, list[str]], name: str, exc: ValidationError | str) -> None:
    messages = exc.messages if isinstance(exc, ValidationError) else [exc]
    errors.setdefault(name, []).extend(messages)


def _choice(value: Any, choices: Any, label: str) -> Any:
    if value not in choices.values:
        allowed = ", ".join(str(v) for v in choices.values if v != "")
        raise ValidationError(f"{value!r} is not a {label}; use one of: {allowed}.")
    return value


def _subject(value: str) -> str:
    text = normalize.clean_text(value, max_length=200)
    if not text:
        raise ValidationError("Give the activity a subject.")
    return text


def _notes(value: str) -> str:
    text = str(value).strip()
    if len(text) > 20_000:
        raise ValidationError("Notes are at most 20,000 characters.")
    return text


def _url(value: str) -> str:
    text = str(value).strip()
    if text:
        if len(text) > 500:
            raise ValidationError("A link is at most 500 characters.")
        URLValidator(schemes=["http", "https"])(text)
    return text


def _duration(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError("A call's duration is a whole number of seconds, 0 or more.")
    if value > 24 * 3600:
        raise ValidationError("A call lasts at most 24 hours.")
    return value


def _emails(values: list[str]) -> list[str]:
    cleaned: list[str] = []
    for raw in values:
        try:
            address = normalize.normalize_email(raw)
        except ValidationError as exc:
            raise ValidationError(f"{raw!r} is not an e-mail address.") from exc
        if address and address not in cleaned:
            cleaned.append(address)
    if len(cleaned) > MAX_ATTENDEES:
        raise ValidationError(f"A meeting has at most {MAX_ATTENDEES} attendees.")
    return cleaned


def _when(value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise ValidationError("Give a date and time.")
    return aware(value)


SCALARS: dict[str, Any] = {
    "kind": lambda v: _choice(v, ActivityKind, "kind of activity"),
    "subject": _subject,
    "notes": _notes,
    "priority": lambda v: _choice(v, Priority, "priority"),
    "due_at": _when,
    "starts_at": _when,
    "ends_at": _when,
    "reminder_at": _when,
    "call_direction": lambda v: _choice(v, CallDirection, "call direction"),
    "call_duration_seconds": _duration,
    "call_outcome": lambda v: _choice(v, CallOutcome, "call outcome"),
    "recording_url": _url,
    "location": lambda v: normalize.clean_text(v, max_length=255),
    "attendee_emails": _emails,
}


def scalar_values(data: ActivityInput) -> dict[str, Any]:
    """The given scalar fields, cleaned; a ValidationError lists every bad field."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name, step in SCALARS.items():
        raw = getattr(data, name)
        if raw is None:
            continue
        try:
            values[name] = step(raw)
        except ValidationError as exc:
            _add(errors, name, exc)
    for name in data.clear:
        if name not in CLEARABLE:
            _add(errors, "clear", f"{name!r} cannot be cleared; only: {', '.join(CLEARABLE)}.")
    if errors:
        raise ValidationError(errors)
    return values


def check_times(activity: Activity) -> None:
    """The rules between an activity's times, on the values it will be saved with."""
    errors: dict[str, list[str]] = {}
    if activity.kind == ActivityKind.MEETING:
        if activity.starts_at is None:
            _add(errors, "starts_at", "A meeting needs a start time.")
        else:
            if activity.ends_at is None:
                activity.ends_at = activity.starts_at + MEETING_DEFAULT_LENGTH
            if activity.ends_at <= activity.starts_at:
                _add(errors, "ends_at", "A meeting ends after it starts.")
            # A meeting is due when it starts: "My day" and the lists sort on due_at.
            activity.due_at = activity.starts_at
    elif activity.starts_at and activity.ends_at and activity.ends_at < activity.starts_at:
        _add(errors, "ends_at", "The end is before the start.")
    if errors:
        raise ValidationError(errors)


def visible_customer(actor: Any, customer_id: int) -> Any:
    """The customer, if the actor may see it: an activity is only filed on a customer the
    user can open (the same rule as an order's)."""
    customer = customer_selectors.customer_list(actor=actor).filter(pk=customer_id).first()
    if customer is None:
        raise ValidationError({"customer_id": f"There is no customer #{customer_id} you can see."})
    return customer


def related_record(actor: Any, related_type: str, related_id: str) -> Any:
    """The record an activity is about besides its customer (a deal, a ticket), named by
    its registered object type; it must exist and be visible to the actor."""
    registered = registry.object_type(related_type)
    if registered is None or related_type == ACTIVITY_TYPE:
        raise ValidationError({"related_type": f"{related_type!r} is not an object type."})
    app_label, _, model_name = related_type.partition(".")
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        raise ValidationError(
            {"related_type": f"{related_type!r} is not an object type."}
        ) from None
    try:
        record = (
            scope_queryset(model._default_manager.all(), actor=actor, action="view")
            .filter(pk=related_id)
            .first()
        )
    except (ValueError, TypeError, ValidationError):  # not an id of that type
        record = None
    if record is None:
        raise ValidationError(
            {"related_id": f"There is no {registered.label.lower()} #{related_id} you can see."}
        )
    return record


def customer_of(record: Any, related_type: str) -> int | None:
    """The customer a related record is about, through its registered customer field."""
    registered = registry.object_type(related_type)
    if registered is None or not registered.customer_field:
        return None
    return getattr(record, f"{registered.customer_field}_id", None)


def check_attendees(ids: list[int]) -> list[int]:
    unique = sorted({int(i) for i in ids})
    if len(unique) > MAX_ATTENDEES:
        raise ValidationError({"attendee_ids": f"A meeting has at most {MAX_ATTENDEES} attendees."})
    found = set(
        get_user_model().objects.filter(pk__in=unique, is_active=True).values_list("pk", flat=True)
    )
    missing = [i for i in unique if i not in found]
    if missing:
        raise ValidationError(
            {"attendee_ids": f"No active user #{', #'.join(str(i) for i in missing)}."}
        )
    return unique


def check_assignment(
    *, actor: Any, owner_id: int | None, team_id: int | None, current: Any
) -> None:
    """Who may give an activity to whom, on the activity grant: `all` scope anyone to
    anyone; `team` scope within their teams; `own` keeps it (the customers rule)."""
    grant = actor.grant_for(ACTIVITY_TYPE)
    current_owner = current.owner_id if current is not None else None
    current_team = current.team_id if current is not None else None
    if grant.scope == Scope.ALL:
        require_assignees_exist(owner_id=owner_id, team_id=team_id)
        return
    if grant.scope == Scope.TEAM:
        if team_id is not None and team_id != current_team and team_id not in actor.team_ids():
            raise PermissionDenied("You may only assign activities to your own teams.")
        if owner_id is not None and owner_id not in (current_owner, actor.pk):
            shares = (
                get_user_model().objects.filter(pk=owner_id, teams__in=actor.team_ids()).exists()
            )
            if not shares:
                raise PermissionDenied("You may only assign activities to people in your teams.")
        return
    if (owner_id is not None and owner_id not in (current_owner, actor.pk)) or (
        team_id is not None and team_id != current_team
    ):
        raise PermissionDenied("Your role does not allow assigning activities to others.")


def default_team(actor: Any) -> int | None:
    team_ids = sorted(actor.team_ids()) if hasattr(actor, "team_ids") else []
    return team_ids[0] if team_ids else None
