"""Sales: leads, pipelines with ordered stages, deals on the customer hub, and each deal's
stage history. A deal points at the hub's Customer; it never holds a copy of the customer.

Money is Decimal(12,2) with an ISO 4217 code on the row, as in commerce.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from rapport.core.models import OwnedModel, TimestampedModel


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    WORKING = "working", "Working"
    QUALIFIED = "qualified", "Qualified"
    DISQUALIFIED = "disqualified", "Disqualified"
    CONVERTED = "converted", "Converted"


# A lead still being worked: a second form from the same person updates it.
OPEN_LEAD_STATUSES = (LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED)


class Lead(OwnedModel):
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    organization_name = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=2, blank=True)
    source = models.CharField(max_length=100, blank=True)
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=100, blank=True)
    utm_term = models.CharField(max_length=100, blank=True)
    utm_content = models.CharField(max_length=100, blank=True)
    message = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=LeadStatus.choices, default=LeadStatus.NEW)
    disqualify_reason = models.CharField(max_length=200, blank=True)
    score = models.PositiveSmallIntegerField(default=0)
    # How many times this person reached us (forms, imports) while the lead was open.
    touches = models.PositiveIntegerField(default=1)
    last_touched_at = models.DateTimeField(default=timezone.now)
    # The existing customer the matcher found; conversion merges into it.
    matched_customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    converted_customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="converted_leads",
        db_index=False,
    )
    converted_deal = models.ForeignKey(
        "sales.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    converted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "id"], name="lead_owner_id"),
            models.Index(fields=["team", "id"], name="lead_team_id"),
            models.Index(fields=["status", "-created_at", "-id"], name="lead_status_recent"),
            models.Index(fields=["-created_at", "-id"], name="lead_recent"),
            models.Index(fields=["score", "id"], name="lead_score"),
            models.Index(fields=["email"], name="lead_email"),
            models.Index(fields=["phone"], name="lead_phone"),
            models.Index(fields=["matched_customer"], name="lead_matched_customer"),
            models.Index(fields=["converted_customer"], name="lead_converted_customer"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.email or self.organization_name or f"Lead #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_LEAD_STATUSES

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'

    def get_absolute_url(self) -> str:
        return reverse("sales:lead_detail", args=[self.pk])


class Pipeline(TimestampedModel):
    """A sales process: ordered stages a deal moves through. Shared by everyone (no owner);
    the pipeline grant alone decides who may change it."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField(default=0)
    is_default = models.BooleanField(default=False)
    currency = models.CharField(max_length=3, default="EUR")
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="pipeline_one_default",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'

    def get_absolute_url(self) -> str:
        return reverse("sales:board", args=[self.pk])


class Stage(TimestampedModel):
    """One step of a pipeline, with the default win probability of a deal standing in it and
    the rules that run when a deal enters it."""

    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.CASCADE, related_name="stages", db_index=False
    )
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    probability = models.PositiveSmallIntegerField(default=0)  # percent, 0..100
    is_won = models.BooleanField(default=False)
    is_lost = models.BooleanField(default=False)
    # Rules on entry: the deal fields that must be filled to enter, and whether the owner is
    # notified. See services/stage_rules.py.
    required_fields = models.JSONField(default=list, blank=True)
    notify_owner = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["pipeline", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="stage_unique_name"),
            models.CheckConstraint(
                condition=models.Q(probability__lte=100), name="stage_probability_lte_100"
            ),
            models.CheckConstraint(
                condition=~models.Q(is_won=True, is_lost=True), name="stage_won_xor_lost"
            ),
        ]
        indexes = [models.Index(fields=["pipeline", "position"], name="stage_pipeline_position")]

    def __str__(self) -> str:
        return f"{self.pipeline.name}: {self.name}" if self.pipeline_id else self.name

    @property
    def is_closed(self) -> bool:
        return self.is_won or self.is_lost

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'


class DealStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Deal(OwnedModel):
    """An opportunity to sell to a customer of the hub."""

    name = models.CharField(max_length=200)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="deals", db_index=False
    )
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.PROTECT, related_name="deals", db_index=False
    )
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals", db_index=False)
    # Denormalised from the stage (open/won/lost) so the board and lists filter on one column.
    status = models.CharField(max_length=8, choices=DealStatus.choices, default=DealStatus.OPEN)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    currency = models.CharField(max_length=3)
    # The win probability in percent; the stage's default unless someone set it.
    probability = models.PositiveSmallIntegerField(default=0)
    expected_close_date = models.DateField(null=True, blank=True)
    next_step = models.CharField(max_length=200, blank=True)
    lost_reason = models.CharField(max_length=200, blank=True)
    competitors = models.CharField(max_length=300, blank=True)
    source_lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    stage_entered_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "id"], name="deal_owner_id"),
            models.Index(fields=["team", "id"], name="deal_team_id"),
            models.Index(fields=["customer", "status", "-id"], name="deal_customer"),
            # The board: one column is (pipeline, stage) in close-date order.
            models.Index(
                fields=["stage", "expected_close_date", "id"],
                name="deal_board_column",
            ),
            models.Index(fields=["pipeline", "status", "id"], name="deal_pipeline_status"),
            # The board's counts and totals as an index-only scan, with the columns its
            # scope and filters narrow by (owner, team, close month): 100,000 deals are
            # summed without reading one table row.
            models.Index(
                fields=[
                    "pipeline",
                    "stage",
                    "currency",
                    "owner",
                    "team",
                    "expected_close_date",
                    "amount",
                    "probability",
                ],
                name="deal_board_totals",
            ),
            models.Index(fields=["status", "-created_at", "-id"], name="deal_status_recent"),
            models.Index(fields=["-created_at", "-id"], name="deal_recent"),
            models.Index(fields=["expected_close_date", "id"], name="deal_close_date"),
            models.Index(fields=["amount", "id"], name="deal_amount"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="deal_amount_gte_0"),
            models.CheckConstraint(
                condition=models.Q(probability__lte=100), name="deal_probability_lte_100"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'

    @property
    def amount_label(self) -> str:
        """ "12,000.00 EUR": cheap to render hundreds of times (the board's cards)."""
        return f"{self.amount:,.2f} {self.currency}"

    @property
    def close_label(self) -> str:
        """ "3 Mar 2027", or "" without a date."""
        d = self.expected_close_date
        return f"{d.day} {d:%b %Y}" if d else ""

    @property
    def weighted_amount(self) -> Decimal:
        return (self.amount * self.probability / 100).quantize(Decimal("0.01"))

    def get_absolute_url(self) -> str:
        return reverse("sales:deal_detail", args=[self.pk])


class DealStageChange(models.Model):
    """One entry of a deal into a stage (its creation counts as the first): what conversion
    and velocity reports read, and what makes stage rules fire once per entry."""

    id = models.BigAutoField(primary_key=True)
    deal = models.ForeignKey(
        Deal, on_delete=models.CASCADE, related_name="stage_changes", db_index=False
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="+")
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+", db_index=False)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # The deal's amount and the time it spent in the stage it left (velocity reports).
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    seconds_in_previous = models.PositiveBigIntegerField(null=True, blank=True)
    # How the move arrived (ui, api, import, system): which paths fire the rules.
    via = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["deal", "changed_at", "id"]
        indexes = [
            models.Index(fields=["deal", "changed_at", "id"], name="dealstage_deal"),
            models.Index(fields=["to_stage", "changed_at"], name="dealstage_entered"),
            models.Index(fields=["from_stage", "changed_at"], name="dealstage_left"),
        ]

    def __str__(self) -> str:
        return f"deal #{self.deal_id}: {self.from_stage_id} -> {self.to_stage_id}"
