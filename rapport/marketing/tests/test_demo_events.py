"""The marketing demo loader: stitched visitors, abandoned carts, anonymous visitors and
two segments, loaded once."""

from __future__ import annotations

import pytest

from rapport.commerce.tests.factories import ProductFactory
from rapport.marketing import demo_events
from rapport.marketing.models import Segment, SegmentMembership, VisitorIdentity, WebEvent
from rapport.marketing.tests.factories import customer

pytestmark = pytest.mark.django_db


def test_the_demo_loads_stitched_visitors_carts_and_segments_once() -> None:
    for i in range(8):
        customer(email=f"shopper{i}@example.com")
    ProductFactory.create_batch(3)
    message = demo_events.load()
    assert "8 visitors stitched" in message and "2 abandoned carts" in message
    assert VisitorIdentity.objects.count() == 8
    assert not WebEvent.objects.filter(visitor_id__startswith="demo-v", customer__isnull=True)
    assert WebEvent.objects.filter(customer__isnull=True).exists()  # the anonymous ones
    carts = Segment.objects.get(name="Abandoned carts")
    assert SegmentMembership.objects.filter(segment=carts).count() == 2
    assert demo_events.load() == "Marketing demo data already loaded."
