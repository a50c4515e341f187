"""Writes to sales, one module per business area: leads (capture, update, disqualify),
conversion, pipelines and stages, deals (create, move, win, lose) and the stage rules
every stage entry runs. Each function checks access, writes in one transaction and
records the audit row, the outbox event and the customer's timeline entry."""

from rapport.sales.services.conversion import Conversion, lead_convert
from rapport.sales.services.deals import (
    BulkDeals,
    DealInput,
    deal_create,
    deal_delete,
    deal_lose,
    deal_move_stage,
    deal_update,
    deal_win,
    deals_bulk_create,
    default_pipeline,
)
from rapport.sales.services.leads import (
    LeadInput,
    lead_create,
    lead_delete,
    lead_disqualify,
    lead_update,
)
from rapport.sales.services.pipelines import (
    PipelineInput,
    StageInput,
    pipeline_create,
    pipeline_delete,
    pipeline_update,
    stage_create,
    stage_delete,
    stage_update,
)

__all__ = [
    "BulkDeals",
    "Conversion",
    "DealInput",
    "LeadInput",
    "PipelineInput",
    "StageInput",
    "deal_create",
    "deal_delete",
    "deal_lose",
    "deal_move_stage",
    "deal_update",
    "deal_win",
    "deals_bulk_create",
    "default_pipeline",
    "lead_convert",
    "lead_create",
    "lead_delete",
    "lead_disqualify",
    "lead_update",
    "pipeline_create",
    "pipeline_delete",
    "pipeline_update",
    "stage_create",
    "stage_delete",
    "stage_update",
]
