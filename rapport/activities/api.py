"""Activity endpoints under /api/v1/activities: list, create, get, update and delete
through the CRUD builder (cursor lists, Idempotency-Key, ETag/If-Match, problem details),
plus the business actions that are not CRUD: complete, reopen, cancel, and logging a
call. Request bodies derive from the services' input dataclass."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status

from rapport.activities import selectors, services
from rapport.activities.models import Activity
from rapport.activities.schemas import ActivityOut
from rapport.core.api_crud import CrudResource, add_crud_routes, schema_from_dataclass
from rapport.core.api_fields import Id, Int64
from rapport.core.api_helpers import if_match_version, set_etag

router = Router(tags=["activities"])

ActivityIn = schema_from_dataclass(
    services.ActivityInput,
    name="ActivityIn",
    required=("kind", "subject"),
    exclude=("clear",),
)
ActivityPatch = schema_from_dataclass(services.ActivityInput, name="ActivityPatch", partial=True)


class CallLogIn(Schema):
    customer_id: Id | None = None
    subject: str
    direction: str
    occurred_at: dt.datetime | None = None
    duration_seconds: Int64 | None = None
    outcome: str = ""
    notes: str = ""
    recording_url: str = ""
    related_type: str = ""
    related_id: str = ""


# Declared before the CRUD routes: "/activities/calls" would otherwise match
# "/activities/{activity_id}" first.
@router.post(
    "/activities/calls",
    response={201: ActivityOut},
    summary="Log a call that happened (direction, duration, outcome, recording)",
)
def log_call(request: HttpRequest, payload: CallLogIn, response: HttpResponse) -> Any:
    activity = services.call_log(actor=request.user, **payload.dict())
    activity = selectors.activity_detail(actor=request.user, pk=activity.pk)
    set_etag(response, activity)
    return Status(201, activity)


def _activities(*, actor: Any, filters: selectors.ActivityFilters) -> QuerySet[Activity]:
    # The attendees in one more query per page, not one per activity.
    return selectors.activity_list(actor=actor, filters=filters).prefetch_related("attendees")


add_crud_routes(
    router,
    CrudResource(
        name="activities",
        model=Activity,
        schema_out=ActivityOut,
        schema_in=ActivityIn,
        schema_patch=ActivityPatch,
        filters=schema_from_dataclass(selectors.ActivityFilters, name="ActivityFilterParams"),
        select_list=_activities,
        select_get=selectors.activity_detail,
        sorts=selectors.ACTIVITY_SORTS,
        default_sort="due",
        create=services.activity_create,
        update=services.activity_update,
        delete=services.activity_delete,
    ),
)


class CompleteIn(Schema):
    call_outcome: str | None = None
    call_duration_seconds: Int64 | None = None
    notes: str | None = None


@router.post(
    "/activities/{activity_id}/complete",
    response=ActivityOut,
    summary="Mark an activity done (optionally with the call's outcome and notes)",
)
def complete_activity(
    request: HttpRequest,
    activity_id: Id,
    response: HttpResponse,
    payload: CompleteIn | None = None,
) -> Any:
    activity = selectors.activity_detail(actor=request.user, pk=activity_id)
    body = payload or CompleteIn()
    activity = services.activity_complete(
        actor=request.user,
        activity=activity,
        expected_version=if_match_version(request, activity),
        call_outcome=body.call_outcome,
        call_duration_seconds=body.call_duration_seconds,
        notes=body.notes,
    )
    activity = selectors.activity_detail(actor=request.user, pk=activity.pk)
    set_etag(response, activity)
    return activity


@router.post("/activities/{activity_id}/reopen", response=ActivityOut, summary="Reopen an activity")
def reopen_activity(request: HttpRequest, activity_id: Id, response: HttpResponse) -> Any:
    activity = selectors.activity_detail(actor=request.user, pk=activity_id)
    services.activity_reopen(
        actor=request.user, activity=activity, expected_version=if_match_version(request, activity)
    )
    activity = selectors.activity_detail(actor=request.user, pk=activity_id)
    set_etag(response, activity)
    return activity


@router.post("/activities/{activity_id}/cancel", response=ActivityOut, summary="Cancel an activity")
def cancel_activity(request: HttpRequest, activity_id: Id, response: HttpResponse) -> Any:
    activity = selectors.activity_detail(actor=request.user, pk=activity_id)
    services.activity_cancel(
        actor=request.user, activity=activity, expected_version=if_match_version(request, activity)
    )
    activity = selectors.activity_detail(actor=request.user, pk=activity_id)
    set_etag(response, activity)
    return activity
