"""Create, change, move through stages, win, lose and delete deals. Every stage entry —
a create, a move on the board, a PATCH of `stage_id`, a bulk import row — goes through
`_enter_stage`, which checks and fires the stage's rules and writes the stage history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.commerce.money import format_money, normalize_currency, parse_amount
from rapport.commerce.services import check_assignment
from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.core.permissions import acting_user, require
from rapport.core.versioning import bump_version, lock_for_change
from rapport.customers.models import Customer
from rapport.sales.models import Deal, DealStageChange, DealStatus, Pipeline, Stage
from rapport.sales.schemas import deal_payload
from rapport.sales.services import stage_rules
from rapport.sales.services.common import (
    DEAL_TYPE,
    _add_error,
    _default_team,
    _require_visible_customer,
    _text,
    _timeline,
)

# How a stage entry arrived: kept on the history row.
VIA = ("ui", "api", "import", "conversion", "system")


@dataclass
class DealInput:
    """Writable deal fields; None on update means "leave as it is". A new deal goes to the
    default pipeline's first open stage unless `pipeline_id`/`stage_id` say otherwise."""

    name: str | None = None
    pipeline_id: int | None = None
    stage_id: int | None = None
    amount: Any = None
    currency: str | None = None
    probability: int | None = None
    expected_close_date: dt.date | None = None
    next_step: str | None = None
    competitors: str | None = None
    lost_reason: str | None = None
    owner_id: int | None = None
    team_id: int | None = None


def _deal_values(data: DealInput) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    if data.name is not None:
        values["name"] = _text(data.name, 200)
        if not values["name"]:
            _add_error(errors, "name", "Give the deal a name.")
    if data.amount is not None:
        try:
            values["amount"] = parse_amount(data.amount)
        except ValidationError as exc:
            _add_error(errors, "amount", exc)
    if data.currency is not None:
        try:
            values["currency"] = normalize_currency(data.currency)
        except ValidationError as exc:
            _add_error(errors, "currency", exc)
    if data.probability is not None:
        if not 0 <= int(data.probability) <= 100:
            _add_error(errors, "probability", "A probability is a percentage, 0 to 100.")
        values["probability"] = int(data.probability)
    if data.expected_close_date is not None:
        if not isinstance(data.expected_close_date, dt.date):
            _add_error(errors, "expected_close_date", "Give a date (YYYY-MM-DD).")
        values["expected_close_date"] = data.expected_close_date
    for name, length in (("next_step", 200), ("competitors", 300), ("lost_reason", 200)):
        raw = getattr(data, name)
        if raw is not None:
            values[name] = _text(raw, length)
    if errors:
        raise ValidationError(errors)
    return values


def default_pipeline() -> Pipeline:
    pipeline = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    if pipeline is None:
        raise ValidationError({"pipeline_id": "There is no pipeline yet: an admin creates one."})
    return pipeline


def first_open_stage(pipeline: Pipeline) -> Stage:
    stage = pipeline.stages.filter(is_won=False, is_lost=False).order_by("position", "id").first()
    if stage is None:
        raise ValidationError({"stage_id": f"The pipeline {pipeline.name} has no open stage."})
    return stage


def _stage_in(pipeline: Pipeline, stage_id: int) -> Stage:
    stage = Stage.objects.filter(pk=stage_id, pipeline=pipeline).select_related("pipeline").first()
    if stage is None:
        raise ValidationError(
            {"stage_id": f"The pipeline {pipeline.name} has no stage #{stage_id}."}
        )
    return stage


def _placement(data: DealInput, deal: Deal | None) -> tuple[Pipeline, Stage] | None:
    """The (pipeline, stage) `data` asks for; None when it asks for no change."""
    if data.pipeline_id is None and data.stage_id is None:
        if deal is not None:
            return None
        pipeline = default_pipeline()
        return pipeline, first_open_stage(pipeline)
    if data.pipeline_id is not None:
        found = Pipeline.objects.filter(pk=data.pipeline_id).first()
        if found is None:
            raise ValidationError({"pipeline_id": f"There is no pipeline #{data.pipeline_id}."})
        pipeline = found
    elif deal is not None:
        pipeline = deal.pipeline
    else:
        assert data.stage_id is not None
        stage = Stage.objects.select_related("pipeline").filter(pk=data.stage_id).first()
        if stage is None:
            raise ValidationError({"stage_id": f"There is no stage #{data.stage_id}."})
        return stage.pipeline, stage
    if data.stage_id is not None:
        return pipeline, _stage_in(pipeline, data.stage_id)
    if deal is not None and deal.pipeline_id == pipeline.pk:
        return None
    return pipeline, first_open_stage(pipeline)


def _apply_stage(deal: Deal, stage: Stage, *, keep_probability: bool) -> None:
    deal.pipeline = stage.pipeline
    deal.stage = stage
    deal.status = (
        DealStatus.WON if stage.is_won else DealStatus.LOST if stage.is_lost else DealStatus.OPEN
    )
    if not keep_probability:
        deal.probability = stage.probability
    deal.closed_at = timezone.now() if stage.is_closed else None


def _enter_stage(
    *,
    actor: Any,
    deal: Deal,
    previous: Stage | None,
    entered_previous_at: dt.datetime | None,
    via: str,
) -> None:
    """After `deal` (saved) entered `deal.stage`: history, events, timeline, then the
    rules that act. The refusing rules ran before the save (`stage_rules.check_entry`)."""
    stage = deal.stage
    now = timezone.now()
    DealStageChange.objects.create(
        deal=deal,
        pipeline_id=deal.pipeline_id,
        from_stage=previous,
        to_stage=stage,
        changed_at=now,
        changed_by=acting_user(actor),
        amount=deal.amount,
        seconds_in_previous=(
            int((now - entered_previous_at).total_seconds())
            if previous is not None and entered_previous_at is not None
            else None
        ),
        via=via,
    )
    payload = deal_payload(deal)
    if previous is not None:
        outbox.emit(
            "deal.stage_changed",
            {**payload, "previous_stage_id": previous.pk, "via": via},
            aggregate=deal,
        )
        summary = f"Deal {deal.name} moved to {stage.name}"
        if deal.status == DealStatus.WON:
            summary = f"Deal {deal.name} won ({format_money(deal.amount, deal.currency)})"
        elif deal.status == DealStatus.LOST:
            summary = f"Deal {deal.name} lost" + (
                f": {deal.lost_reason}" if deal.lost_reason else ""
            )
        _timeline(
            actor=actor,
            customer=deal.customer,
            summary=summary,
            source=deal,
            data={"deal_id": deal.pk, "stage": stage.name, "previous_stage": previous.name},
        )
    if deal.status == DealStatus.WON:
        outbox.emit("deal.won", payload, aggregate=deal)
    elif deal.status == DealStatus.LOST:
        outbox.emit("deal.lost", payload, aggregate=deal)
    stage_rules.after_entry(actor=actor, deal=deal, stage=stage, via=via)


def _check_via(via: str) -> None:
    if via not in VIA:
        raise ValueError(f"via must be one of {VIA}")


def _create(*, actor: Any, customer: Customer, data: DealInput, via: str) -> Deal:
    _require_visible_customer(actor, customer)
    values = _deal_values(data)
    placement = _placement(data, None)
    assert placement is not None
    pipeline, stage = placement
    if data.owner_id is not None or data.team_id is not None:
        check_assignment(
            actor=actor,
            object_type=DEAL_TYPE,
            owner_id=data.owner_id,
            team_id=data.team_id,
            current=None,
        )
    values.setdefault("name", f"{customer.display_name} deal"[:200])
    values.setdefault("currency", pipeline.currency)
    deal = Deal(
        **values,
        customer=customer,
        owner_id=data.owner_id if data.owner_id is not None else (customer.owner_id or actor.pk),
        team_id=data.team_id
        if data.team_id is not None
        else (customer.team_id or _default_team(actor)),
    )
    _apply_stage(deal, stage, keep_probability="probability" in values)
    stage_rules.check_entry(deal, stage)
    deal.stage_entered_at = timezone.now()
    deal.save(force_insert=True)
    audit.record_created(actor=actor, obj=deal)
    outbox.emit("deal.created", deal_payload(deal), aggregate=deal)
    _timeline(
        actor=actor,
        customer=customer,
        summary=f"Deal {deal.name} opened in {stage.name} "
        f"({format_money(deal.amount, deal.currency)})",
        source=deal,
        data={"deal_id": deal.pk, "stage": stage.name, "pipeline": pipeline.name},
    )
    _enter_stage(actor=actor, deal=deal, previous=None, entered_previous_at=None, via=via)
    return deal


@transaction.atomic
def deal_create(*, actor: Any, customer: Customer, data: DealInput, via: str = "ui") -> Deal:
    """Open a deal for `customer` (one the actor can see). It enters its stage like any
    move: the stage's required fields are checked and its rules fire (once)."""
    require(actor, "create", Deal)
    _check_via(via)
    return _create(actor=actor, customer=customer, data=data, via=via)


@dataclass
class BulkDeals:
    created: list[Deal] = field(default_factory=list)
    errors: dict[int, dict[str, list[str]]] = field(default_factory=dict)  # row -> errors


@transaction.atomic
def deals_bulk_create(
    *, actor: Any, rows: Sequence[tuple[Customer, DealInput]], via: str = "import"
) -> BulkDeals:
    """Create many deals (imports, integrations). Each row enters its stage through the same
    path as a single create, so stage rules fire for every row; a refused row is reported
    by its index and the others are kept."""
    require(actor, "create", Deal)
    _check_via(via)
    result = BulkDeals()
    for index, (customer, data) in enumerate(rows):
        try:
            with transaction.atomic():
                result.created.append(_create(actor=actor, customer=customer, data=data, via=via))
        except ValidationError as exc:
            result.errors[index] = (
                exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
            )
        except PermissionDenied as exc:
            result.errors[index] = {"__all__": [str(exc)]}
    return result


def _update(
    *, actor: Any, deal: Deal, data: DealInput, via: str, force_stage: Stage | None = None
) -> Deal:
    values = _deal_values(data)
    placement = (force_stage.pipeline, force_stage) if force_stage else _placement(data, deal)
    if data.owner_id is not None or data.team_id is not None:
        check_assignment(
            actor=actor,
            object_type=DEAL_TYPE,
            owner_id=data.owner_id,
            team_id=data.team_id,
            current=deal,
        )
        if data.owner_id is not None:
            values["owner_id"] = data.owner_id
        if data.team_id is not None:
            values["team_id"] = data.team_id
    before = audit.snapshot(deal)
    previous, entered_at = deal.stage, deal.stage_entered_at
    for name, value in values.items():
        setattr(deal, name, value)
    moving = placement is not None and placement[1].pk != deal.stage_id
    if moving:
        assert placement is not None
        _apply_stage(deal, placement[1], keep_probability="probability" in values)
        stage_rules.check_entry(deal, placement[1])
        deal.stage_entered_at = timezone.now()
    changes = audit.diff(before, audit.snapshot(deal))
    if not changes:
        return deal
    bump_version(deal)
    deal.save()
    deal.refresh_from_db()
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=deal, changes=changes)
    outbox.emit(
        "deal.updated", {**deal_payload(deal), "changed_fields": sorted(changes)}, aggregate=deal
    )
    if moving:
        _enter_stage(
            actor=actor, deal=deal, previous=previous, entered_previous_at=entered_at, via=via
        )
    return deal


@transaction.atomic
def deal_update(
    *,
    actor: Any,
    deal: Deal,
    data: DealInput,
    expected_version: int | None = None,
    via: str = "ui",
) -> Deal:
    """Change the fields `data` sets. A new `stage_id` (or pipeline) is a stage entry, with
    its rules, exactly as `deal_move_stage`; fields set in the same call count for them."""
    require(actor, "edit", deal)
    _check_via(via)
    deal = lock_for_change(deal, expected_version=expected_version)
    return _update(actor=actor, deal=deal, data=data, via=via)


@transaction.atomic
def deal_move_stage(
    *, actor: Any, deal: Deal, stage: Stage, expected_version: int | None = None, via: str = "ui"
) -> Deal:
    """Move a deal to `stage` (of its pipeline or another). Moving to the stage it stands in
    is no entry: nothing happens, no rule fires."""
    require(actor, "edit", deal)
    _check_via(via)
    deal = lock_for_change(deal, expected_version=expected_version)
    if stage.pk == deal.stage_id:
        return deal
    return _update(actor=actor, deal=deal, data=DealInput(), via=via, force_stage=stage)


def _closing_stage(deal: Deal, *, won: bool) -> Stage:
    stage = deal.pipeline.stages.filter(**({"is_won": True} if won else {"is_lost": True})).first()
    if stage is None:
        kind = "won" if won else "lost"
        raise ValidationError(f"The pipeline {deal.pipeline.name} has no {kind} stage.")
    return stage


@transaction.atomic
def deal_win(
    *, actor: Any, deal: Deal, expected_version: int | None = None, via: str = "ui"
) -> Deal:
    """Move the deal to its pipeline's won stage."""
    require(actor, "edit", deal)
    _check_via(via)
    deal = lock_for_change(deal, expected_version=expected_version)
    if deal.status == DealStatus.WON:
        return deal
    return _update(
        actor=actor,
        deal=deal,
        data=DealInput(),
        via=via,
        force_stage=_closing_stage(deal, won=True),
    )


@transaction.atomic
def deal_lose(
    *, actor: Any, deal: Deal, reason: str, expected_version: int | None = None, via: str = "ui"
) -> Deal:
    """Move the deal to its pipeline's lost stage, recording why (required)."""
    require(actor, "edit", deal)
    _check_via(via)
    if not _text(reason, 200):
        raise ValidationError({"lost_reason": "Say why the deal was lost."})
    deal = lock_for_change(deal, expected_version=expected_version)
    if deal.status == DealStatus.LOST:
        return deal
    return _update(
        actor=actor,
        deal=deal,
        data=DealInput(lost_reason=reason),
        via=via,
        force_stage=_closing_stage(deal, won=False),
    )


@transaction.atomic
def deal_delete(*, actor: Any, deal: Deal, expected_version: int | None = None) -> None:
    """Remove a deal with its stage history (the timeline keeps what happened)."""
    require(actor, "delete", deal)
    deal = lock_for_change(deal, expected_version=expected_version)
    payload = deal_payload(deal)
    audit.record_deleted(actor=actor, obj=deal, before=audit.snapshot(deal))
    outbox.emit("deal.deleted", payload, aggregate=deal)
    deal.delete()
