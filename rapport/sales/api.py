"""Sales endpoints: leads, deals, pipelines and stages as `CrudResource`s (cursor lists,
Idempotency-Key on create, ETag/If-Match, problem details), plus the business actions
that are not CRUD: convert and disqualify a lead, move / win / lose a deal, and a deal's
stage history. Request bodies derive from the services' input dataclasses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from rapport.commerce.money import normalize_currency
from rapport.core.api_crud import CrudResource, add_crud_routes, input_from, schema_from_dataclass
from rapport.core.api_fields import Id, Money
from rapport.core.api_helpers import if_match_version, set_etag
from rapport.core.pagination import SortKey
from rapport.core.permissions import require
from rapport.customers import selectors as customer_selectors
from rapport.sales import selectors, services
from rapport.sales.models import Deal, Lead, Pipeline
from rapport.sales.schemas import (
    DealOut,
    LeadOut,
    PipelineDetailOut,
    PipelineOut,
    StageChangeOut,
    StageOut,
)

router = Router(tags=["sales"])


def _currency(value: str) -> str:
    try:
        return normalize_currency(value)
    except ValidationError as exc:
        raise PydanticCustomError("currency", "{message}", {"message": exc.messages[0]}) from exc


Currency = Annotated[str, AfterValidator(_currency)]


def _customer(actor: Any, customer_id: int) -> Any:
    customer = customer_selectors.customer_list(actor=actor).filter(pk=customer_id).first()
    if customer is None:
        raise ValidationError({"customer_id": f"No customer #{customer_id} that you may see."})
    return customer


# --- Leads --------------------------------------------------------------------------------

LeadIn = schema_from_dataclass(services.LeadInput, name="LeadIn")
LeadPatch = schema_from_dataclass(services.LeadInput, name="LeadPatch", partial=True)

add_crud_routes(
    router,
    CrudResource(
        name="leads",
        model=Lead,
        schema_out=LeadOut,
        schema_in=LeadIn,
        schema_patch=LeadPatch,
        filters=schema_from_dataclass(selectors.LeadFilters, name="LeadFilterParams"),
        select_list=selectors.lead_list,
        select_get=selectors.lead_detail,
        sorts=selectors.LEAD_SORTS,
        default_sort="-created",
        create=services.lead_create,
        update=services.lead_update,
        delete=services.lead_delete,
        summaries={
            "create": "Capture a lead (a known person's open lead is updated, not duplicated)"
        },
    ),
)


class DisqualifyIn(Schema):
    reason: str


class ConvertIn(Schema):
    customer_id: Id | None = None  # merge into this existing customer
    create_deal: bool = True
    deal_name: str | None = None
    amount: Money | None = None
    currency: Currency | None = None
    pipeline_id: Id | None = None
    stage_id: Id | None = None


class ConversionOut(Schema):
    lead: LeadOut
    person_id: int
    organization_id: int | None
    deal: DealOut | None
    merged: bool


@router.post(
    "/leads/{lead_id}/disqualify", response=LeadOut, summary="Disqualify a lead (with a reason)"
)
def disqualify_lead(
    request: HttpRequest, lead_id: Id, payload: DisqualifyIn, response: HttpResponse
) -> Any:
    lead = selectors.lead_detail(actor=request.user, pk=lead_id)
    lead = services.lead_disqualify(
        actor=request.user,
        lead=lead,
        reason=payload.reason,
        expected_version=if_match_version(request, lead),
    )
    set_etag(response, lead)
    return lead


@router.post(
    "/leads/{lead_id}/convert",
    response=ConversionOut,
    summary="Convert a lead into a customer (new or existing), organization and deal",
)
def convert_lead(request: HttpRequest, lead_id: Id, payload: ConvertIn) -> Any:
    actor: Any = request.user
    lead = selectors.lead_detail(actor=actor, pk=lead_id)
    customer = _customer(actor, payload.customer_id) if payload.customer_id else None
    result = services.lead_convert(
        actor=actor,
        lead=lead,
        customer=customer,
        create_deal=payload.create_deal,
        deal=services.DealInput(
            name=payload.deal_name,
            amount=payload.amount,
            currency=payload.currency,
            pipeline_id=payload.pipeline_id,
            stage_id=payload.stage_id,
        ),
        expected_version=if_match_version(request, lead),
        via="api",
    )
    return {
        "lead": result.lead,
        "person_id": result.person.pk,
        "organization_id": getattr(result.organization, "pk", None),
        "deal": result.deal,
        "merged": result.merged,
    }


# --- Pipelines and stages -----------------------------------------------------------------

PipelineIn = schema_from_dataclass(
    services.PipelineInput, name="PipelineIn", required=("name",), types={"currency": Currency}
)
PipelinePatch = schema_from_dataclass(
    services.PipelineInput, name="PipelinePatch", partial=True, types={"currency": Currency}
)

add_crud_routes(
    router,
    CrudResource(
        name="pipelines",
        model=Pipeline,
        schema_out=PipelineOut,
        schema_detail=PipelineDetailOut,
        schema_in=PipelineIn,
        schema_patch=PipelinePatch,
        select_list=selectors.pipeline_list,
        select_get=selectors.pipeline_detail,
        sorts={"position": SortKey("position", "position"), "id": SortKey("id", "pk")},
        default_sort="position",
        create=services.pipeline_create,
        update=services.pipeline_update,
        delete=services.pipeline_delete,
    ),
)


# Stages are part of their pipeline: the pipeline grant (not one of their own) decides, so
# they are hand-written endpoints rather than a CrudResource (which checks the model's own).
StageIn = schema_from_dataclass(services.StageInput, name="StageIn", required=("name",))
StagePatch = schema_from_dataclass(services.StageInput, name="StagePatch", partial=True)
if TYPE_CHECKING:
    StageBody = Any
    StagePatchBody = Any
else:
    StageBody = StageIn
    StagePatchBody = StagePatch


@router.get("/stages", response=list[StageOut], summary="List stages (of one pipeline)")
def list_stages(request: HttpRequest, pipeline_id: Id | None = None) -> Any:
    actor: Any = request.user
    require(actor, "view", Pipeline)
    qs = selectors.stage_list(actor=actor).order_by("pipeline", "position", "id")
    return list(qs.filter(pipeline_id=pipeline_id) if pipeline_id else qs)


@router.post(
    "/pipelines/{pipeline_id}/stages",
    response={201: StageOut},
    summary="Add a stage to a pipeline",
)
def create_stage(
    request: HttpRequest, pipeline_id: Id, payload: StageBody, response: HttpResponse
) -> Any:
    actor: Any = request.user
    pipeline = selectors.pipeline_detail(actor=actor, pk=pipeline_id)
    stage = services.stage_create(actor=actor, pipeline=pipeline, data=input_from(payload))
    set_etag(response, stage)
    return Status(201, stage)


@router.patch("/stages/{stage_id}", response=StageOut, summary="Change a stage (If-Match)")
def update_stage(
    request: HttpRequest, stage_id: Id, payload: StagePatchBody, response: HttpResponse
) -> Any:
    actor: Any = request.user
    stage = selectors.stage_detail(actor=actor, pk=stage_id)
    stage = services.stage_update(
        actor=actor,
        stage=stage,
        data=input_from(payload, partial=True),
        expected_version=if_match_version(request, stage),
    )
    set_etag(response, stage)
    return stage


@router.delete("/stages/{stage_id}", response={204: None}, summary="Remove an empty stage")
def delete_stage(request: HttpRequest, stage_id: Id) -> Any:
    actor: Any = request.user
    stage = selectors.stage_detail(actor=actor, pk=stage_id)
    services.stage_delete(
        actor=actor, stage=stage, expected_version=if_match_version(request, stage)
    )
    return Status(204, None)


# --- Deals --------------------------------------------------------------------------------

DEAL_TYPES: dict[str, Any] = {"amount": Money, "currency": Currency}
DealIn = schema_from_dataclass(
    services.DealInput, name="DealIn", types=DEAL_TYPES, leading={"customer_id": (Id, ...)}
)
DealPatch = schema_from_dataclass(
    services.DealInput, name="DealPatch", partial=True, types=DEAL_TYPES
)
if TYPE_CHECKING:
    DealBody = Any
else:
    DealBody = DealIn


def _deal_create(*, actor: Any, customer: Any, data: services.DealInput) -> Any:
    return services.deal_create(actor=actor, customer=customer, data=data, via="api")


def _deal_update(*, actor: Any, deal: Any, data: Any, expected_version: int | None) -> Any:
    return services.deal_update(
        actor=actor, deal=deal, data=data, expected_version=expected_version, via="api"
    )


add_crud_routes(
    router,
    CrudResource(
        name="deals",
        model=Deal,
        schema_out=DealOut,
        schema_in=DealIn,
        schema_patch=DealPatch,
        filters=schema_from_dataclass(selectors.DealFilters, name="DealFilterParams"),
        select_list=selectors.deal_list,
        select_get=selectors.deal_detail,
        sorts=selectors.DEAL_SORTS,
        default_sort="-created",
        create=_deal_create,
        create_args=lambda actor, payload: {"customer": _customer(actor, payload.customer_id)},
        update=_deal_update,
        delete=services.deal_delete,
        summaries={"create": "Open a deal (it enters its stage: the stage's rules apply)"},
    ),
)


class MoveIn(Schema):
    stage_id: Id


class LoseIn(Schema):
    reason: str


def _stage(actor: Any, stage_id: int) -> Any:
    try:
        return selectors.stage_detail(actor=actor, pk=stage_id)
    except Http404 as exc:
        raise ValidationError({"stage_id": f"There is no stage #{stage_id}."}) from exc


@router.post("/deals/{deal_id}/move", response=DealOut, summary="Move a deal to a stage")
def move_deal(request: HttpRequest, deal_id: Id, payload: MoveIn, response: HttpResponse) -> Any:
    deal = selectors.deal_detail(actor=request.user, pk=deal_id)
    deal = services.deal_move_stage(
        actor=request.user,
        deal=deal,
        stage=_stage(request.user, payload.stage_id),
        expected_version=if_match_version(request, deal),
        via="api",
    )
    set_etag(response, deal)
    return deal


@router.post("/deals/{deal_id}/win", response=DealOut, summary="Mark a deal won")
def win_deal(request: HttpRequest, deal_id: Id, response: HttpResponse) -> Any:
    deal = selectors.deal_detail(actor=request.user, pk=deal_id)
    deal = services.deal_win(
        actor=request.user, deal=deal, expected_version=if_match_version(request, deal), via="api"
    )
    set_etag(response, deal)
    return deal


@router.post("/deals/{deal_id}/lose", response=DealOut, summary="Mark a deal lost (with a reason)")
def lose_deal(request: HttpRequest, deal_id: Id, payload: LoseIn, response: HttpResponse) -> Any:
    deal = selectors.deal_detail(actor=request.user, pk=deal_id)
    deal = services.deal_lose(
        actor=request.user,
        deal=deal,
        reason=payload.reason,
        expected_version=if_match_version(request, deal),
        via="api",
    )
    set_etag(response, deal)
    return deal


@router.get(
    "/deals/{deal_id}/stage-history",
    response=list[StageChangeOut],
    summary="A deal's stage history",
)
def deal_stage_history(request: HttpRequest, deal_id: Id) -> Any:
    actor: Any = request.user
    require(actor, "view", Deal)
    deal = selectors.deal_detail(actor=actor, pk=deal_id)
    return selectors.deal_history(actor=actor, deal=deal)
