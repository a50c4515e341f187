"""Duplicates and merges over the API: the review queue, merge, undo, dismiss.

Access is the customers' own: listing needs view on customers (and a pair shows only when
both records are visible); merging needs edit on the record kept and delete on the one
merged away; undoing needs edit on both. `POST /merges` honours `Idempotency-Key`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema
from pydantic import ConfigDict

from rapport.core.api_fields import Id, Int64
from rapport.core.api_helpers import idempotent, json_response, page_schema
from rapport.core.permissions import require
from rapport.customers.selectors import CUSTOMER_TYPE
from rapport.dedupe import selectors, services
from rapport.dedupe.models import CustomerMerge, DuplicatePair, PairStatus
from rapport.dedupe.services import merging
from rapport.identity.http import UserRequest

router = Router(tags=["duplicates"])


class PairOut(Schema):
    id: int
    customer_a_id: int
    customer_b_id: int
    probability: float
    match_weight: float
    details: dict[str, str]
    status: str
    cluster_key: int | None
    created_at: dt.datetime


class MergeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    survivor_id: Id = Field(description="The record kept.")
    loser_id: Id = Field(description="The record merged into it (it leaves every list).")
    rule: Literal["most_complete", "most_recent"] = "most_complete"
    choices: dict[str, Literal["survivor", "loser"]] = Field(
        default_factory=dict,
        description='Per-field picks overriding the rule, e.g. {"job_title": "loser", '
        '"custom_fields.tier": "survivor"}.',
    )
    survivor_version: Int64 | None = Field(None, description="Refused with 412 if it changed.")
    loser_version: Int64 | None = Field(None, description="Refused with 412 if it changed.")


class MergeOut(Schema):
    id: int
    survivor_id: int
    loser_id: int
    status: str
    rule: str
    choices: dict[str, str]
    automatic: bool
    changed_fields: list[str]
    moved: dict[str, int]
    merged_at: dt.datetime
    undone_at: dt.datetime | None
    pair_id: int | None


class QueueParams(Schema):
    model_config = ConfigDict(extra="forbid")

    min_probability: float = Field(0.0, ge=0.0, le=1.0)
    cursor: str | None = None
    limit: int = Field(25, ge=1, le=200)


def _pair(pair: DuplicatePair) -> dict[str, Any]:
    return {
        "id": pair.pk,
        "customer_a_id": pair.customer_a_id,
        "customer_b_id": pair.customer_b_id,
        "probability": pair.probability,
        "match_weight": pair.match_weight,
        "details": pair.details,
        "status": pair.status,
        "cluster_key": pair.cluster_key,
        "created_at": pair.created_at.isoformat(),
    }


@router.get("/duplicates", response=page_schema(PairOut, "PairPage"), summary="Duplicates queue")
def list_duplicates(request: UserRequest, params: Query[QueueParams]) -> HttpResponse:
    """Open pairs, most likely first, keyset-paginated (`next_cursor`)."""
    actor: Any = request.user
    require(actor, "view", CUSTOMER_TYPE)
    page = selectors.queue_page(
        actor=request.user,
        cursor=params.cursor,
        limit=params.limit,
        min_probability=params.min_probability,
    )
    return json_response({"items": [_pair(p) for p in page.items], "next_cursor": page.next_cursor})


@router.post("/duplicates/{pair_id}/dismiss", response=PairOut, summary="Not a duplicate")
def dismiss_duplicate(request: UserRequest, pair_id: Id) -> HttpResponse:
    pair = selectors.pair_for_review(actor=request.user, pk=pair_id)
    decided = services.pair_decide(actor=request.user, pair=pair, status=PairStatus.DISMISSED)
    return json_response(_pair(decided))


@router.post("/merges", response={201: MergeOut}, summary="Merge two customers")
def create_merge(request: UserRequest, payload: MergeIn) -> HttpResponse:
    def create() -> tuple[int, dict[str, Any]]:
        survivor = selectors.visible_customer(actor=request.user, pk=payload.survivor_id)
        loser = selectors.visible_customer(actor=request.user, pk=payload.loser_id)
        done = merging.customer_merge(
            actor=request.user,
            survivor=survivor,
            loser=loser,
            rule=payload.rule,
            choices=payload.choices,
            survivor_version=payload.survivor_version,
            loser_version=payload.loser_version,
        )
        return 201, merging.merge_payload(done)

    response = idempotent(request, create)
    return response


@router.get("/merges/{merge_id}", response=MergeOut, summary="A merge")
def get_merge(request: UserRequest, merge_id: Id) -> HttpResponse:
    done: CustomerMerge = selectors.merge_for(actor=request.user, pk=merge_id)
    return json_response(merging.merge_payload(done))


@router.post("/merges/{merge_id}/undo", response=MergeOut, summary="Undo a merge")
def undo_merge(request: UserRequest, merge_id: Id) -> HttpResponse:
    """Both records and their links come back as they were before the merge."""
    done = selectors.merge_for(actor=request.user, pk=merge_id)
    return json_response(
        merging.merge_payload(merging.customer_unmerge(actor=request.user, merge=done))
    )
