"""pipeline_create / pipeline_update / pipeline_delete / stage_create / stage_update /
stage_delete."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.core.permissions import Scope
from rapport.sales import services
from rapport.sales.models import Pipeline, Stage
from rapport.sales.tests.factories import CustomerFactory, make_pipeline, sales_user, stage

pytestmark = pytest.mark.django_db


def test_pipeline_create_first_is_default_and_names_are_unique() -> None:
    user = sales_user()
    first = services.pipeline_create(actor=user, data=services.PipelineInput(name="New"))
    second = services.pipeline_create(actor=user, data=services.PipelineInput(name="Renewals"))
    assert first.is_default and not second.is_default
    with pytest.raises(ValidationError):
        services.pipeline_create(actor=user, data=services.PipelineInput(name="new"))
    with pytest.raises(ValidationError):
        services.pipeline_create(actor=user, data=services.PipelineInput(name="X", currency="EURO"))


def test_pipeline_create_needs_the_grant() -> None:
    with pytest.raises(PermissionDenied):
        services.pipeline_create(
            actor=sales_user(actions=("view",)), data=services.PipelineInput(name="X")
        )


def test_pipeline_update_moves_the_default() -> None:
    user = sales_user()
    first = services.pipeline_create(actor=user, data=services.PipelineInput(name="New"))
    second = services.pipeline_create(actor=user, data=services.PipelineInput(name="Renewals"))
    services.pipeline_update(
        actor=user, pipeline=second, data=services.PipelineInput(is_default=True)
    )
    first.refresh_from_db()
    assert not first.is_default
    assert list(Pipeline.objects.filter(is_default=True)) == [second]


def test_pipeline_delete_refused_while_it_holds_deals(pipeline: Any) -> None:
    user = sales_user(Scope.ALL)
    services.deal_create(
        actor=user, customer=CustomerFactory(owner=user), data=services.DealInput(name="X")
    )
    with pytest.raises(ValidationError):
        services.pipeline_delete(actor=user, pipeline=pipeline)
    empty = make_pipeline("Empty", default=False)
    services.pipeline_delete(actor=user, pipeline=empty)
    assert not Pipeline.objects.filter(pk=empty.pk).exists()


def test_stage_create_appends_and_validates(pipeline: Any) -> None:
    user = sales_user()
    extra = services.stage_create(
        actor=user, pipeline=pipeline, data=services.StageInput(name="Legal", probability=85)
    )
    assert extra.position == pipeline.stages.count() - 1
    with pytest.raises(ValidationError):
        services.stage_create(
            actor=user, pipeline=pipeline, data=services.StageInput(name="Bad", probability=120)
        )
    with pytest.raises(ValidationError):
        services.stage_create(actor=user, pipeline=pipeline, data=services.StageInput(name="legal"))
    with pytest.raises(ValidationError):
        services.stage_create(
            actor=user,
            pipeline=pipeline,
            data=services.StageInput(name="Both", is_won=True, is_lost=True),
        )


def test_stage_update(pipeline: Any) -> None:
    user = sales_user()
    updated = services.stage_update(
        actor=user,
        stage=stage(pipeline, "Propose"),
        data=services.StageInput(probability=40, required_fields=["next_step"]),
    )
    assert updated.probability == 40 and updated.required_fields == ["next_step"]
    assert updated.version == 2


def test_stage_delete_refused_while_deals_stand_in_it(pipeline: Any) -> None:
    user = sales_user()
    services.deal_create(
        actor=user, customer=CustomerFactory(owner=user), data=services.DealInput(name="X")
    )
    with pytest.raises(ValidationError):
        services.stage_delete(actor=user, stage=stage(pipeline, "Qualify"))
    services.stage_delete(actor=user, stage=stage(pipeline, "Propose"))
    assert not Stage.objects.filter(pipeline=pipeline, name="Propose").exists()
