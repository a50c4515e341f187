"""The public shape of sales data: what the API returns and what events carry.
Amounts are Decimal, serialised as strings ("1200.00")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Schema


class LeadOut(Schema):
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    organization_name: str
    title: str
    country: str
    source: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    message: str
    status: str
    disqualify_reason: str
    score: int
    touches: int
    matched_customer_id: int | None
    converted_customer_id: int | None
    converted_deal_id: int | None
    converted_at: dt.datetime | None
    owner_id: int | None
    team_id: int | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class StageOut(Schema):
    id: int
    pipeline_id: int
    name: str
    position: int
    probability: int
    is_won: bool
    is_lost: bool
    required_fields: list[str]
    notify_owner: bool
    version: int


class PipelineOut(Schema):
    id: int
    name: str
    position: int
    is_default: bool
    currency: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class PipelineDetailOut(PipelineOut):
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(obj: Any) -> list[Any]:
        return list(obj.stages.all())


class DealOut(Schema):
    id: int
    name: str
    customer_id: int
    pipeline_id: int
    stage_id: int
    status: str
    amount: Decimal
    currency: str
    probability: int
    expected_close_date: dt.date | None
    next_step: str
    lost_reason: str
    competitors: str
    source_lead_id: int | None
    stage_entered_at: dt.datetime
    closed_at: dt.datetime | None
    owner_id: int | None
    team_id: int | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class StageChangeOut(Schema):
    id: int
    from_stage_id: int | None
    to_stage_id: int
    changed_at: dt.datetime
    changed_by_id: int | None
    amount: Decimal
    seconds_in_previous: int | None
    via: str


def lead_payload(lead: Any) -> dict[str, Any]:
    return LeadOut.from_orm(lead).model_dump(mode="json")


def pipeline_payload(pipeline: Any) -> dict[str, Any]:
    return PipelineOut.from_orm(pipeline).model_dump(mode="json")


def stage_payload(stage: Any) -> dict[str, Any]:
    return StageOut.from_orm(stage).model_dump(mode="json")


def deal_payload(deal: Any) -> dict[str, Any]:
    return DealOut.from_orm(deal).model_dump(mode="json")
