"""Factories and helpers for sales tests: users with sales grants, customers, a pipeline."""

from __future__ import annotations

from typing import Any

import factory

from rapport.core.permissions import ACTIONS, Scope, system_actor
from rapport.customers.models import Customer
from rapport.identity.tests.factories import user_with
from rapport.sales import services
from rapport.sales.models import Pipeline

SALES_TYPES = ("customers.customer", "sales.lead", "sales.deal", "sales.pipeline")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    display_name = factory.Sequence(lambda n: f"Customer {n}")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Example"


def sales_user(
    scope: Scope | str = Scope.ALL, actions: tuple[str, ...] = ACTIONS, **kwargs: Any
) -> Any:
    """A user whose role grants `scope`/`actions` on customers, leads, deals, pipelines."""
    return user_with(scope, actions, object_types=SALES_TYPES, **kwargs)


STAGES = [
    ("Qualify", 10, False, False),
    ("Propose", 50, False, False),
    ("Negotiate", 80, False, False),
    ("Won", 100, True, False),
    ("Lost", 0, False, True),
]


def make_pipeline(name: str = "Sales", *, default: bool = True, currency: str = "EUR") -> Pipeline:
    actor = system_actor()
    pipeline = services.pipeline_create(
        actor=actor,
        data=services.PipelineInput(name=name, is_default=default, currency=currency),
    )
    for stage_name, probability, won, lost in STAGES:
        services.stage_create(
            actor=actor,
            pipeline=pipeline,
            data=services.StageInput(
                name=stage_name, probability=probability, is_won=won, is_lost=lost
            ),
        )
    return pipeline


def stage(pipeline: Pipeline, name: str) -> Any:
    return pipeline.stages.get(name=name)
