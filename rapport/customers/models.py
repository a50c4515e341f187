"""The customer data hub: one record per customer (person or organization), its contact
points, relationships, consent ledger, custom fields and the one timeline of interactions.

Persons and organizations share one table (`Customer.kind`), as Odoo's partners do, so
that every other app (orders, tickets, opportunities, campaigns, analytics) links to
"the customer" with one foreign key and a B2B order or ticket needs no special case.
See docs/decisions/0002-one-customer-table.md.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from rapport.core.models import OwnedModel, TimestampedModel
from rapport.customers.normalize import name_sort_key

# The quality_issues bit of a record not scored yet (customers.quality.Issue.UNSCORED).
UNSCORED = 1 << 30


class CustomerKind(models.TextChoices):
    PERSON = "person", "Person"
    ORGANIZATION = "organization", "Organization"


class LifecycleStage(models.TextChoices):
    SUBSCRIBER = "subscriber", "Subscriber"
    LEAD = "lead", "Lead"
    CUSTOMER = "customer", "Customer"
    CHURNED = "churned", "Churned"


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)
    color = models.CharField(max_length=7, default="#6941c6")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class NameSortKeyField(models.CharField):
    """`Customer.sort_name`: derived from display_name whenever Django writes the row."""

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = name_sort_key(getattr(model_instance, "display_name", "") or "")
        setattr(model_instance, self.attname, value)
        return value


class Customer(OwnedModel):
    kind = models.CharField(
        max_length=12, choices=CustomerKind.choices, default=CustomerKind.PERSON
    )
    # Persons: first/last name. Organizations: organization_name. display_name is derived
    # by the service on every write; lists sort and search on it.
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    organization_name = models.CharField(max_length=200, blank=True)
    display_name = models.CharField(max_length=255, db_index=False)
    # What lists sort names by: display_name as a person reads it (accents and case
    # folded, a leading lower-case particle filed after the name; normalize.name_sort_key).
    # Derived on every save() and bulk_create; writers that bypass both (the import's
    # bulk insert, bulk_update) set it themselves. PostgreSQL compares it with the "C"
    # collation (migration 0009) so both databases order it alike.
    sort_name = NameSortKeyField(max_length=255, blank=True, default="")
    job_title = models.CharField(max_length=150, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    language = models.CharField(max_length=16, blank=True, help_text="BCP 47 tag, e.g. en, fr-CA")
    source = models.CharField(max_length=100, blank=True)
    lifecycle_stage = models.CharField(
        max_length=16, choices=LifecycleStage.choices, default=LifecycleStage.LEAD
    )
    lifecycle_changed_at = models.DateTimeField(default=timezone.now)
    website = models.URLField(max_length=300, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    # Denormalised primary contact points (normalised), kept by the service, for lists,
    # exports, upserts by e-mail and exact-match search without a join.
    primary_email = models.CharField(max_length=254, blank=True)
    primary_phone = models.CharField(max_length=20, blank=True)
    # Denormalised primary address fields for lists, filters and segments.
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    tags: models.ManyToManyField[Tag, CustomerTag] = models.ManyToManyField(
        Tag, through="CustomerTag", related_name="customers", blank=True
    )
    custom_fields = models.JSONField(default=dict, blank=True)
    # Lower-cased names, e-mails, phone digits, external id and organization names: what
    # global search matches (FTS5 on SQLite, trigram + full text on PostgreSQL).
    search_text = models.TextField(blank=True, default="")
    erased_at = models.DateTimeField(null=True, blank=True)
    # Completeness and validity, 0-100, and the issues behind it (bits of
    # customers.quality.Issue), derived on every write like display_name; the default
    # marks a record not scored yet.
    quality_score = models.PositiveSmallIntegerField(default=0)
    quality_issues = models.PositiveIntegerField(default=UNSCORED)
    # Indexed for the merged-away records only (customer_merged_into): an index over
    # every live record's NULL let SQLite's planner answer "merged_into IS NULL AND
    # external_id IN (…2,000 ids…)" by scanning all live customers, once per import batch.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
        db_index=False,
    )

    class Meta:
        indexes = [
            models.Index(fields=["sort_name", "id"], name="customer_name"),
            models.Index(fields=["kind", "sort_name", "id"], name="customer_kind_name"),
            models.Index(fields=["-created_at", "-id"], name="customer_created"),
            models.Index(fields=["-updated_at", "-id"], name="customer_updated"),
            models.Index(fields=["primary_email"], name="customer_email"),
            models.Index(fields=["primary_phone"], name="customer_phone"),
            models.Index(fields=["owner", "sort_name", "id"], name="customer_owner_name"),
            models.Index(fields=["team", "sort_name", "id"], name="customer_team_name"),
            # Scoped reads in id order (the API's default): what SQLite's own (owner_id)
            # index gave, as its rows end in the rowid.
            models.Index(fields=["owner", "id"], name="customer_owner_id"),
            models.Index(fields=["team", "id"], name="customer_team_id"),
            # Lifecycle order is the stage codes' reverse alphabetical order.
            models.Index(fields=["-lifecycle_stage", "sort_name", "id"], name="customer_stage"),
            # Filters on country (and city) and the list's country and city sorts, which
            # order by (country, city, id) and (city, id): walked, never sorted.
            models.Index(fields=["country", "city", "id"], name="customer_place"),
            models.Index(fields=["city", "id"], name="customer_city"),
            models.Index(fields=["quality_score", "id"], name="customer_quality"),
            models.Index(
                fields=["merged_into"],
                name="customer_merged_into",
                condition=models.Q(merged_into__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=CustomerKind.values), name="customer_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A save limited to some fields writes the sort key along with display_name.
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "display_name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "sort_name"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("customers:detail", args=[self.pk])

    @property
    def is_person(self) -> bool:
        return self.kind == CustomerKind.PERSON

    @property
    def quality_band(self) -> str:
        """How the data-quality score reads: good (80+), fair (50-79), poor, unscored."""
        if self.quality_issues & UNSCORED:
            return "unscored"
        if self.quality_score >= 80:
            return "good"
        return "fair" if self.quality_score >= 50 else "poor"


class SearchWord(models.Model):
    """A word of a customer's name (folded, letters only): the vocabulary that search
    corrects typos against ("smth" -> "smith"). Append-only and shared by all customers,
    written by the services and the import with every name; a word no longer in any name
    only costs a candidate that matches nobody."""

    word = models.CharField(max_length=40, unique=True)

    def __str__(self) -> str:
        return self.word


class CustomerTag(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, db_index=False)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, db_index=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "tag"], name="customer_tag_unique")
        ]
        indexes = [models.Index(fields=["tag", "customer"], name="customertag_by_tag")]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.tag_id}"


class ContactKind(models.TextChoices):
    WORK = "work", "Work"
    HOME = "home", "Home"
    MOBILE = "mobile", "Mobile"
    OTHER = "other", "Other"


class EmailAddress(models.Model):
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="emails", db_index=False
    )
    email = models.CharField(max_length=254, help_text="Normalised by email-validator.")
    kind = models.CharField(max_length=8, choices=ContactKind.choices, default=ContactKind.WORK)
    is_primary = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["email"], name="email_lookup")]
        constraints = [
            models.UniqueConstraint(fields=["customer", "email"], name="email_once_per_customer")
        ]
        ordering = ["-is_primary", "id"]

    def __str__(self) -> str:
        return self.email


class PhoneNumber(models.Model):
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="phones", db_index=False
    )
    e164 = models.CharField(max_length=20, help_text="E.164, normalised by phonenumbers.")
    raw = models.CharField(max_length=50, blank=True, help_text="As it was entered.")
    kind = models.CharField(max_length=8, choices=ContactKind.choices, default=ContactKind.MOBILE)
    is_primary = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["e164"], name="phone_lookup")]
        constraints = [
            models.UniqueConstraint(fields=["customer", "e164"], name="phone_once_per_customer")
        ]
        ordering = ["-is_primary", "id"]

    def __str__(self) -> str:
        return self.e164


class AddressKind(models.TextChoices):
    HOME = "home", "Home"
    WORK = "work", "Work"
    BILLING = "billing", "Billing"
    SHIPPING = "shipping", "Shipping"
    OTHER = "other", "Other"


class Address(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(max_length=10, choices=AddressKind.choices, default=AddressKind.HOME)
    line1 = models.CharField(max_length=200, blank=True)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    region = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "id"]

    def __str__(self) -> str:
        return ", ".join(p for p in [self.line1, self.postcode, self.city, self.country] if p)


class Affiliation(TimestampedModel):
    """A person's role at an organization (B2B): title, primary employer, dates."""

    person = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="affiliations", db_index=False
    )
    organization = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="members", db_index=False
    )
    title = models.CharField(max_length=150, blank=True)
    is_primary = models.BooleanField(default=True)
    started_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person", "organization"], name="affiliation_once_per_pair"
            )
        ]
        indexes = [models.Index(fields=["organization", "person"], name="affiliation_by_org")]

    def __str__(self) -> str:
        return f"{self.person_id} at {self.organization_id}"


class RelationshipKind(models.TextChoices):
    HOUSEHOLD = "household", "Household"
    EMPLOYER = "employer", "Employer"
    REFERRED_BY = "referred_by", "Referred by"
    PARTNER = "partner", "Partner"


# How each kind reads from the `from` side and from the `to` side.
RELATIONSHIP_LABELS: dict[str, tuple[str, str]] = {
    RelationshipKind.HOUSEHOLD: ("Same household as", "Same household as"),
    RelationshipKind.EMPLOYER: ("Works for", "Employs"),
    RelationshipKind.REFERRED_BY: ("Was referred by", "Referred"),
    RelationshipKind.PARTNER: ("Partner of", "Partner of"),
}


class Relationship(TimestampedModel):
    """A directed link between two customers, shown from both sides with its own wording."""

    from_customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="relationships_out", db_index=False
    )
    to_customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="relationships_in", db_index=False
    )
    kind = models.CharField(max_length=16, choices=RelationshipKind.choices)
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["from_customer", "to_customer", "kind"], name="relationship_unique"
            ),
            models.CheckConstraint(
                condition=~models.Q(from_customer=models.F("to_customer")),
                name="relationship_not_self",
            ),
        ]
        indexes = [models.Index(fields=["to_customer", "kind"], name="relationship_inbound")]

    def __str__(self) -> str:
        return f"{self.from_customer_id} {self.kind} {self.to_customer_id}"


class ConsentChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    PHONE = "phone", "Phone"
    POST = "post", "Post"
    ANY = "any", "Any channel"


class ConsentPurpose(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    PROFILING = "profiling", "Profiling and analytics"
    SERVICE = "service", "Service messages"


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", "Granted"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ConsentRecord(models.Model):
    """The consent ledger: append-only; the latest row per (channel, purpose) is in force."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="consents", db_index=False
    )
    channel = models.CharField(max_length=8, choices=ConsentChannel.choices)
    purpose = models.CharField(max_length=12, choices=ConsentPurpose.choices)
    status = models.CharField(max_length=10, choices=ConsentStatus.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(
        max_length=50, help_text="How: web form, double opt-in, phone call, import, API…"
    )
    text_shown = models.TextField(blank=True, help_text="The wording the customer agreed to.")
    evidence = models.CharField(max_length=255, blank=True, help_text="IP address, form URL…")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["customer", "channel", "purpose", "-occurred_at", "-id"],
                name="consent_current",
            )
        ]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.channel}/{self.purpose}: {self.status}"


class CustomFieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice"
    MULTI_CHOICE = "multi_choice", "Multiple choice"
    BOOLEAN = "boolean", "Yes / no"
    URL = "url", "URL"


class CustomFieldDefinition(TimestampedModel):
    """An admin-defined field on an object type; values live in the object's JSON column."""

    object_type = models.CharField(max_length=100, default="customers.customer")
    key = models.SlugField(
        max_length=50, help_text="Stable name used in the API, import and export."
    )
    label = models.CharField(max_length=100)
    field_type = models.CharField(max_length=16, choices=CustomFieldType.choices)
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)
    help_text = models.CharField(max_length=255, blank=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["object_type", "key"], name="custom_field_key_unique")
        ]
        ordering = ["object_type", "position", "label"]

    def __str__(self) -> str:
        return self.label


class InteractionKind(models.TextChoices):
    NOTE = "note", "Note"
    EMAIL = "email", "E-mail"
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    TASK = "task", "Task"
    CHAT = "chat", "Chat"
    TICKET = "ticket", "Ticket"
    ORDER = "order", "Order"
    SHIPMENT = "shipment", "Shipment"
    CAMPAIGN_SEND = "campaign_send", "Campaign sent"
    CAMPAIGN_OPEN = "campaign_open", "Campaign opened"
    CAMPAIGN_CLICK = "campaign_click", "Campaign clicked"
    WEB_EVENT = "web_event", "Web event"
    MERGE = "merge", "Merge"
    LIFECYCLE = "lifecycle", "Lifecycle change"
    CONSENT = "consent", "Consent"
    DEAL = "deal", "Deal"


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    PHONE = "phone", "Phone"
    CHAT = "chat", "Chat"
    WEB = "web", "Web"
    IN_PERSON = "in_person", "In person"
    STORE = "store", "Store"
    SMS = "sms", "SMS"
    SOCIAL = "social", "Social"
    SYSTEM = "system", "System"


class Direction(models.TextChoices):
    INBOUND = "in", "Inbound"
    OUTBOUND = "out", "Outbound"
    NONE = "", "—"


class Interaction(models.Model):
    """One entry on a customer's timeline, written by the service of the app that owns it.

    `source_type`/`source_id` link to the object behind it (an order, a ticket…). The table
    is append-mostly and read by (customer, occurred_at), which its index serves directly.
    """

    id = models.BigAutoField(primary_key=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="interactions", db_index=False
    )
    kind = models.CharField(max_length=16, choices=InteractionKind.choices)
    channel = models.CharField(max_length=12, choices=Channel.choices, default=Channel.SYSTEM)
    direction = models.CharField(max_length=3, choices=Direction.choices, blank=True, default="")
    occurred_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    summary = models.CharField(max_length=500)
    body = models.TextField(blank=True)
    source_type = models.CharField(max_length=100, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "-occurred_at", "-id"], name="timeline"),
            models.Index(fields=["customer", "kind", "-occurred_at", "-id"], name="timeline_kind"),
            models.Index(fields=["source_type", "source_id"], name="interaction_source"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.summary}"
