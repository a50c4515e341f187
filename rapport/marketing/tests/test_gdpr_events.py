"""A person's web events, stitched visitor ids and memberships are in their GDPR export and
go on erasure, with the anonymous events of their browsers."""

from __future__ import annotations

import pytest

from rapport.core.gdpr import ErasureContext
from rapport.core.permissions import system_actor
from rapport.marketing import gdpr_events
from rapport.marketing.models import SegmentMembership, VisitorIdentity, WebEvent
from rapport.marketing.services import SegmentInput, segment_create, web_events_ingest
from rapport.marketing.tests.factories import customer, event, marketer

pytestmark = pytest.mark.django_db


def test_export_then_erase_everything_marketing_holds_about_a_person() -> None:
    ada = customer(email="ada@example.com")
    other = customer()
    actor = marketer()
    web_events_ingest(
        actor=actor,
        events=[
            event("login", visitor_id="v-ada", customer={"email": "ada@example.com"}),
            event("page_view", visitor_id="v-someone"),
        ],
    )
    # An event of the same browser that arrived without the stitch (e.g. a late retry).
    WebEvent.objects.create(
        event_key="late",
        type="page_view",
        visitor_id="v-ada",
        occurred_at=WebEvent.objects.first().occurred_at,
    )
    segment_create(actor=actor, data=SegmentInput(name="All"))
    archive = gdpr_events.export(customer_id=ada.pk)
    assert archive is not None and archive["visitor_ids"] == ["v-ada"]
    assert [e["type"] for e in archive["web_events"]] == ["login"]
    assert gdpr_events.export(customer_id=other.pk) is None

    ctx = ErasureContext(actor=system_actor(), customer_id=ada.pk, label="Erased")
    assert gdpr_events.erase(ctx=ctx) == 4  # login, the late view, the visitor, a membership
    assert not WebEvent.objects.filter(visitor_id="v-ada").exists()
    assert WebEvent.objects.filter(visitor_id="v-someone").exists()
    assert not VisitorIdentity.objects.exists()
    assert list(SegmentMembership.objects.values_list("customer_id", flat=True)) == [other.pk]
