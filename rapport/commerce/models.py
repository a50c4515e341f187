"""Commerce: the product catalogue, the customer's orders with their lines, and shipments
with their tracking events, so anyone can answer "what did they buy?" and "where is it?".

Money is Decimal(12,2) with an ISO 4217 code on the row (see docs/decisions/
0300-money-as-decimal-and-currency.md). Orders and shipments are owned records (record
scope applies); products are a shared catalogue.
"""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils import timezone

from rapport.core.models import OwnedModel, TimestampedModel


class Product(TimestampedModel):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=100, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["name", "id"], name="product_name"),
            models.Index(fields=["category", "name", "id"], name="product_category"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def get_absolute_url(self) -> str:
        return reverse("commerce:product_detail", args=[self.pk])


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    FULFILLED = "fulfilled", "Fulfilled"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    RETURNED = "returned", "Returned"


# Orders that do not count towards revenue.
NON_REVENUE_STATUSES = (OrderStatus.CANCELLED, OrderStatus.RETURNED)


class OrderChannel(models.TextChoices):
    WEB = "web", "Web shop"
    STORE = "store", "Store"
    PHONE = "phone", "Phone"
    EMAIL = "email", "E-mail"
    MARKETPLACE = "marketplace", "Marketplace"
    ERP = "erp", "ERP"
    SALES = "sales", "Sales rep"
    OTHER = "other", "Other"


class Order(OwnedModel):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    # The id in the system the order came from (shop, ERP): the key of idempotent upserts.
    external_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    number = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=12, choices=OrderStatus.choices, default=OrderStatus.PENDING
    )
    channel = models.CharField(max_length=12, choices=OrderChannel.choices, default="web")
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    tax = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    shipping = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    ordered_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "-ordered_at", "-id"], name="order_customer_recent"),
            models.Index(fields=["status", "-ordered_at", "-id"], name="order_status_recent"),
            models.Index(fields=["-ordered_at", "-id"], name="order_recent"),
            models.Index(fields=["owner", "-ordered_at", "-id"], name="order_owner_recent"),
            models.Index(fields=["team", "-ordered_at", "-id"], name="order_team_recent"),
            models.Index(fields=["owner", "id"], name="order_owner_id"),
            models.Index(fields=["team", "id"], name="order_team_id"),
            models.Index(fields=["number"], name="order_number"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(subtotal__gte=0, tax__gte=0, shipping__gte=0, total__gte=0),
                name="order_amounts_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.number or self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("commerce:order_detail", args=[self.pk])

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'

    @property
    def status_tone(self) -> str:
        """The badge colour pages show the status in."""
        return ORDER_TONES.get(self.status, "")


ORDER_TONES = {
    "pending": "warning",
    "paid": "primary",
    "fulfilled": "primary",
    "shipped": "primary",
    "delivered": "success",
    "cancelled": "danger",
}

# An order's values besides its identifiers (number, external id): what an upsert from the
# system of record rewrites, and what a person's data export lists.
ORDER_VALUE_FIELDS = (
    "status",
    "channel",
    "currency",
    "subtotal",
    "tax",
    "shipping",
    "total",
    "ordered_at",
)


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    position = models.PositiveIntegerField(default=0)
    # The catalogue product, if known; sku/name are kept on the line so an order still
    # reads correctly after its product is renamed or deleted.
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sku = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    line_total = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["order", "position", "id"]
        indexes = [models.Index(fields=["order", "position"], name="orderline_order")]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="orderline_qty_gt_0"),
            models.CheckConstraint(
                condition=models.Q(unit_price__gte=0, line_total__gte=0),
                name="orderline_amounts_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.name}"


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_TRANSIT = "in_transit", "In transit"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    EXCEPTION = "exception", "Exception"
    RETURNED = "returned", "Returned"


# "Goods in transit": shipped (or about to be) and not yet at the customer.
OPEN_SHIPMENT_STATUSES = (
    ShipmentStatus.PENDING,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentStatus.EXCEPTION,
)


class Shipment(OwnedModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    # Denormalised from the order: "what is on its way to this customer" without a join.
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="shipments", db_index=False
    )
    carrier = models.CharField(max_length=100)
    tracking_number = models.CharField(max_length=100, blank=True)
    tracking_url = models.URLField(max_length=500, blank=True)
    status = models.CharField(
        max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.PENDING
    )
    shipped_at = models.DateTimeField(null=True, blank=True)
    expected_delivery = models.DateField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["expected_delivery", "id"],
                name="shipment_in_transit",
                condition=models.Q(
                    status__in=["pending", "in_transit", "out_for_delivery", "exception"]
                ),
            ),
            models.Index(fields=["customer", "status"], name="shipment_customer"),
            models.Index(fields=["tracking_number"], name="shipment_tracking"),
            models.Index(fields=["owner", "id"], name="shipment_owner"),
            models.Index(fields=["team", "id"], name="shipment_team"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}".strip()

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_SHIPMENT_STATUSES

    @property
    def status_tone(self) -> str:
        return SHIPMENT_TONES.get(self.status, "")


SHIPMENT_TONES = {
    "in_transit": "primary",
    "out_for_delivery": "primary",
    "delivered": "success",
    "exception": "danger",
    "returned": "warning",
}


class ShipmentEvent(models.Model):
    """One tracking scan or status change of a shipment: what, when, where."""

    id = models.BigAutoField(primary_key=True)
    shipment = models.ForeignKey(
        Shipment, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    status = models.CharField(max_length=20, choices=ShipmentStatus.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    location = models.CharField(max_length=200, blank=True)
    description = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["shipment", "-occurred_at", "-id"], name="shipmentevent_recent")
        ]

    def __str__(self) -> str:
        return f"{self.status} at {self.occurred_at:%Y-%m-%d %H:%M}"
