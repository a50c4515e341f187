"""The sales demo loader: two pipelines, leads, deals across stages with a stage history
that ends where each deal stands; loading twice adds nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from rapport.sales import demo
from rapport.sales.models import Deal, DealStageChange, Lead, Pipeline
from rapport.sales.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_demo_loads_pipelines_leads_and_deals_with_history_once() -> None:
    CustomerFactory.create_batch(50)
    demo.load()
    assert Pipeline.objects.count() == 2 and Pipeline.objects.filter(is_default=True).count() == 1
    assert Lead.objects.count() == 60
    deals = list(Deal.objects.select_related("stage"))
    assert len(deals) == 300
    assert {d.status for d in deals} == {"open", "won", "lost"}
    last = {}
    for change in DealStageChange.objects.order_by("deal_id", "changed_at", "id"):
        last[change.deal_id] = change
    assert all(last[d.pk].to_stage_id == d.stage_id for d in deals)
    oldest = DealStageChange.objects.order_by("changed_at").first()
    assert oldest is not None and oldest.changed_at < timezone.now() - dt.timedelta(days=2 * 365)
    counts = (Lead.objects.count(), Deal.objects.count(), DealStageChange.objects.count())
    demo.load()
    assert counts == (Lead.objects.count(), Deal.objects.count(), DealStageChange.objects.count())


def test_demo_without_customers_loads_pipelines_and_leads_only() -> None:
    demo.load()
    assert Pipeline.objects.count() == 2 and not Deal.objects.exists()
