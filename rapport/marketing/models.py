"""Marketing's tables: storefront/web events, visitors stitched to customers, the public
tracker keys, and segments with their membership."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from rapport.core.models import OwnedModel, TimestampedModel


class WebEvent(models.Model):
    """One storefront or web event (page view, product view, cart, checkout, order, signup
    or a custom type). Built for tens of millions of rows: a big integer key, no foreign
    key index of its own (the composites below lead with it), the idempotency key unique,
    and every list reads one of the three (x, occurred_at) indexes."""

    id = models.BigAutoField(primary_key=True)
    # The sender's idempotency key: a retried batch finds its events here and counts
    # nothing twice.
    event_key = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=64)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    visitor_id = models.CharField(max_length=64, blank=True, default="")
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    url = models.CharField(max_length=2000, blank=True, default="")
    # The product an event is about (product_view, cart lines are in properties): what
    # "viewed product X" rules match on.
    product_sku = models.CharField(max_length=100, blank=True, default="")
    properties = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="webevent_customer"),
            models.Index(fields=["visitor_id", "occurred_at"], name="webevent_visitor"),
            models.Index(fields=["type", "occurred_at"], name="webevent_type"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_key}"


class VisitorIdentity(models.Model):
    """An anonymous visitor id known to be a customer (they logged in, signed up, sent a
    form or clicked an e-mail): its later anonymous events resolve to the customer."""

    visitor_id = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    identified_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.visitor_id} -> {self.customer_id}"


class TrackerKey(TimestampedModel):
    """A PUBLIC ingestion key for the JavaScript tracker on one site: it can only write
    browser events (never identify a customer or place an order), only from its allowed
    origins, at most `rate_per_minute` requests a minute."""

    name = models.CharField(max_length=100)
    public_key = models.CharField(max_length=40, unique=True)
    allowed_origins = models.JSONField(default=list)
    rate_per_minute = models.PositiveIntegerField(default=600)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class SegmentKind(models.TextChoices):
    DYNAMIC = "dynamic", "Dynamic (kept up to date by events)"
    STATIC = "static", "Static (a snapshot)"


class Segment(OwnedModel):
    """A set of customers described by rules (nested AND/OR groups, see `segment_rules`).
    Dynamic segments keep their membership current from the outbox; static ones hold the
    snapshot taken when they were (re)built."""

    name = models.CharField(max_length=150)
    description = models.CharField(max_length=500, blank=True, default="")
    kind = models.CharField(max_length=8, choices=SegmentKind.choices, default=SegmentKind.DYNAMIC)
    rules = models.JSONField(default=dict)
    member_count = models.PositiveIntegerField(default=0)
    built_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "id"], name="segment_owner"),
            models.Index(fields=["team", "id"], name="segment_team"),
            models.Index(fields=["name", "id"], name="segment_name"),
        ]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    """Who is in a segment now. Journeys trigger on its changes (segment.entered/left)."""

    id = models.BigAutoField(primary_key=True)
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+", db_index=False)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    entered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "customer"], name="segment_member_unique")
        ]
        indexes = [models.Index(fields=["customer"], name="segment_member_customer")]

    def __str__(self) -> str:
        return f"{self.segment_id}: {self.customer_id}"


class SegmentDirtyCustomer(models.Model):
    """A customer whose data changed since dynamic segments last looked at them: the
    outbox consumer queues them, the refresh task re-evaluates them in batches."""

    customer_id = models.BigIntegerField(primary_key=True)
    queued_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return str(self.customer_id)
