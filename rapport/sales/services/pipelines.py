"""Create, change and remove pipelines and their stages (the pipeline grant decides)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from rapport.commerce.money import normalize_currency
from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.core.permissions import require
from rapport.core.versioning import bump_version, lock_for_change
from rapport.sales.models import Pipeline, Stage
from rapport.sales.schemas import pipeline_payload, stage_payload
from rapport.sales.services.common import _add_error, _text
from rapport.sales.services.stage_rules import check_rule_fields


@dataclass
class PipelineInput:
    name: str | None = None
    position: int | None = None
    is_default: bool | None = None
    currency: str | None = None


@dataclass
class StageInput:
    name: str | None = None
    position: int | None = None
    probability: int | None = None
    is_won: bool | None = None
    is_lost: bool | None = None
    required_fields: list[str] | None = None
    notify_owner: bool | None = None


def _pipeline_values(data: PipelineInput, *, creating: bool, pk: int | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    if data.name is not None or creating:
        name = _text(data.name, 100)
        if not name:
            _add_error(errors, "name", "Give the pipeline a name.")
        elif Pipeline.objects.filter(name__iexact=name).exclude(pk=pk or 0).exists():
            _add_error(errors, "name", f"There is a pipeline called {name!r} already.")
        values["name"] = name
    if data.position is not None:
        values["position"] = max(0, int(data.position))
    if data.currency is not None or creating:
        try:
            values["currency"] = normalize_currency(data.currency or settings.DEFAULT_CURRENCY)
        except ValidationError as exc:
            _add_error(errors, "currency", exc)
    if data.is_default is not None:
        values["is_default"] = bool(data.is_default)
    if errors:
        raise ValidationError(errors)
    return values


def _make_default(pipeline: Pipeline) -> None:
    Pipeline.objects.filter(is_default=True).exclude(pk=pipeline.pk).update(is_default=False)


@transaction.atomic
def pipeline_create(*, actor: Any, data: PipelineInput) -> Pipeline:
    """Add a pipeline; the first one (or one marked default) becomes the default."""
    require(actor, "create", Pipeline)
    values = _pipeline_values(data, creating=True, pk=None)
    if not Pipeline.objects.exists():
        values["is_default"] = True
    if values.get("is_default"):
        Pipeline.objects.filter(is_default=True).update(is_default=False)
    pipeline = Pipeline.objects.create(**values)
    audit.record_created(actor=actor, obj=pipeline)
    outbox.emit("pipeline.created", pipeline_payload(pipeline), aggregate=pipeline)
    return pipeline


@transaction.atomic
def pipeline_update(
    *, actor: Any, pipeline: Pipeline, data: PipelineInput, expected_version: int | None = None
) -> Pipeline:
    require(actor, "edit", Pipeline)
    pipeline = lock_for_change(pipeline, expected_version=expected_version)
    values = _pipeline_values(data, creating=False, pk=pipeline.pk)
    if values.get("is_default") is False and pipeline.is_default:
        raise ValidationError({"is_default": "Make another pipeline the default instead."})
    before = audit.snapshot(pipeline)
    for name, value in values.items():
        setattr(pipeline, name, value)
    changes = audit.diff(before, audit.snapshot(pipeline))
    if not changes:
        return pipeline
    if pipeline.is_default:
        _make_default(pipeline)
    bump_version(pipeline)
    pipeline.save()
    pipeline.refresh_from_db()
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=pipeline, changes=changes)
    outbox.emit("pipeline.updated", pipeline_payload(pipeline), aggregate=pipeline)
    return pipeline


@transaction.atomic
def pipeline_delete(*, actor: Any, pipeline: Pipeline, expected_version: int | None = None) -> None:
    """Remove a pipeline that holds no deals (deals are never deleted with it)."""
    require(actor, "delete", Pipeline)
    pipeline = lock_for_change(pipeline, expected_version=expected_version)
    if pipeline.deals.exists():
        raise ValidationError("This pipeline holds deals: move or delete them first.")
    if pipeline.is_default and Pipeline.objects.exclude(pk=pipeline.pk).exists():
        raise ValidationError("Make another pipeline the default before deleting this one.")
    payload = pipeline_payload(pipeline)
    audit.record_deleted(actor=actor, obj=pipeline, before=audit.snapshot(pipeline))
    outbox.emit("pipeline.deleted", payload, aggregate=pipeline)
    pipeline.delete()


def _stage_values(
    data: StageInput, *, pipeline: Pipeline, creating: bool, pk: int | None
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    if data.name is not None or creating:
        name = _text(data.name, 100)
        if not name:
            _add_error(errors, "name", "Give the stage a name.")
        elif (
            Stage.objects.filter(pipeline=pipeline, name__iexact=name).exclude(pk=pk or 0).exists()
        ):
            _add_error(errors, "name", f"This pipeline has a stage called {name!r} already.")
        values["name"] = name
    if data.position is not None:
        values["position"] = max(0, int(data.position))
    elif creating:
        last = pipeline.stages.order_by("-position").values_list("position", flat=True).first()
        values["position"] = 0 if last is None else last + 1
    if data.probability is not None:
        if not 0 <= int(data.probability) <= 100:
            _add_error(errors, "probability", "A probability is a percentage, 0 to 100.")
        values["probability"] = int(data.probability)
    for flag in ("is_won", "is_lost", "notify_owner"):
        if getattr(data, flag) is not None:
            values[flag] = bool(getattr(data, flag))
    if data.required_fields is not None:
        try:
            values["required_fields"] = check_rule_fields(data.required_fields)
        except ValidationError as exc:
            _add_error(errors, "required_fields", exc)
    if values.get("is_won") and values.get("is_lost"):
        _add_error(errors, "is_lost", "A stage is won or lost, not both.")
    if values.get("is_won"):
        values.setdefault("probability", 100)
    if values.get("is_lost"):
        values.setdefault("probability", 0)
    if errors:
        raise ValidationError(errors)
    return values


@transaction.atomic
def stage_create(*, actor: Any, pipeline: Pipeline, data: StageInput) -> Stage:
    """Add a stage to a pipeline (at the end unless a position is given)."""
    require(actor, "edit", Pipeline)
    values = _stage_values(data, pipeline=pipeline, creating=True, pk=None)
    stage = Stage.objects.create(pipeline=pipeline, **values)
    audit.record_created(actor=actor, obj=stage)
    outbox.emit("stage.created", stage_payload(stage), aggregate=pipeline)
    return stage


@transaction.atomic
def stage_update(
    *, actor: Any, stage: Stage, data: StageInput, expected_version: int | None = None
) -> Stage:
    """Change a stage. A new probability applies to deals that enter it from now on."""
    require(actor, "edit", Pipeline)
    stage = lock_for_change(stage, expected_version=expected_version)
    values = _stage_values(data, pipeline=stage.pipeline, creating=False, pk=stage.pk)
    before = audit.snapshot(stage)
    for name, value in values.items():
        setattr(stage, name, value)
    if stage.is_won and stage.is_lost:
        raise ValidationError({"is_lost": "A stage is won or lost, not both."})
    changes = audit.diff(before, audit.snapshot(stage))
    if not changes:
        return stage
    bump_version(stage)
    stage.save()
    stage.refresh_from_db()
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=stage, changes=changes)
    outbox.emit("stage.updated", stage_payload(stage), aggregate=stage.pipeline)
    return stage


@transaction.atomic
def stage_delete(*, actor: Any, stage: Stage, expected_version: int | None = None) -> None:
    """Remove a stage no deal stands in."""
    require(actor, "edit", Pipeline)
    stage = lock_for_change(stage, expected_version=expected_version)
    if stage.deals.exists():
        raise ValidationError("Deals stand in this stage: move them first.")
    payload = stage_payload(stage)
    audit.record_deleted(actor=actor, obj=stage, before=audit.snapshot(stage))
    outbox.emit("stage.deleted", payload, aggregate=stage.pipeline)
    stage.delete()
