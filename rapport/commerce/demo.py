"""Demo commerce data: a product catalogue, three years of orders for the demo customers and
shipments for the recent ones, every order and shipment on its customer's timeline.

Purchases follow the BG/NBD story (Fader, Hardie & Lee 2005) with parameters near the
paper's CDNOW fit: each buyer has a purchase rate lambda ~ Gamma(r, alpha) and, after each
purchase, drops out with probability p ~ Beta(a, b). That gives what real shops see (and
what the analytics issue fits): many one-time buyers, some repeat buyers, a few heavy ones.

Orders go through `services.orders_bulk_upsert` (audit rows, events and timeline entries
included). Shipments are seed data written in bulk here, with their tracking events and
timeline entries, because there is no bulk shipment service.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from rapport.commerce import services
from rapport.commerce.models import (
    Order,
    OrderStatus,
    Product,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
)
from rapport.customers.models import Channel, Customer, Interaction, InteractionKind

SEED = 20
YEARS = 3
# BG/NBD parameters close to the CDNOW fit (rates per week).
R, ALPHA, A, B = 0.243, 4.414, 0.793, 2.426
BUYER_SHARE = 0.7

CATALOGUE: dict[str, list[tuple[str, str]]] = {
    "Coffee": [
        ("Ethiopia Yirgacheffe, 250 g", "11.90"),
        ("Colombia Huila, 250 g", "10.50"),
        ("Kenya AA, 250 g", "13.90"),
        ("Brazil Cerrado, 1 kg", "29.90"),
        ("Guatemala Antigua, 250 g", "11.50"),
        ("Sumatra Mandheling, 250 g", "12.40"),
        ("House espresso blend, 1 kg", "26.00"),
        ("Decaf Swiss water, 250 g", "11.90"),
        ("Costa Rica Tarrazú, 250 g", "12.90"),
        ("Rwanda Nyamasheke, 250 g", "13.50"),
        ("Cold brew blend, 500 g", "16.90"),
        ("Single-origin sampler, 4 x 100 g", "21.00"),
    ],
    "Tea": [
        ("Darjeeling first flush, 100 g", "14.50"),
        ("Assam breakfast, 250 g", "9.90"),
        ("Sencha Kagoshima, 100 g", "12.00"),
        ("Gyokuro, 50 g", "18.50"),
        ("Earl Grey bergamot, 100 g", "8.90"),
        ("Jasmine pearls, 100 g", "15.90"),
        ("Rooibos vanilla, 100 g", "7.50"),
        ("Oolong Tie Guan Yin, 100 g", "16.00"),
        ("Matcha ceremonial, 30 g", "24.90"),
        ("Chamomile blossoms, 50 g", "6.90"),
        ("Chai spice blend, 150 g", "9.50"),
        ("Pu-erh 2015 cake, 357 g", "39.00"),
    ],
    "Brewing gear": [
        ("Pour-over dripper, ceramic", "24.00"),
        ("Gooseneck kettle, 1 l", "59.00"),
        ("Burr grinder, manual", "79.00"),
        ("Burr grinder, electric", "189.00"),
        ("French press, 8 cups", "34.90"),
        ("Espresso tamper, 58 mm", "29.00"),
        ("Moka pot, 6 cups", "39.90"),
        ("Digital scale with timer", "44.00"),
        ("Cold brew bottle, 1 l", "27.50"),
        ("Glass teapot with infuser", "32.00"),
        ("Cast-iron tetsubin", "89.00"),
        ("Home espresso machine", "549.00"),
    ],
    "Accessories": [
        ("Paper filters, 100 pcs", "5.90"),
        ("Cleaning tablets, 40 pcs", "12.90"),
        ("Milk pitcher, 600 ml", "19.90"),
        ("Airtight canister, 500 g", "22.00"),
        ("Tea strainer, stainless", "6.50"),
        ("Travel mug, 350 ml", "24.90"),
        ("Double-wall glasses, pair", "18.00"),
        ("Knock box", "26.00"),
        ("Descaler, 500 ml", "9.90"),
        ("Tasting spoons, set of 4", "14.00"),
        ("Matcha whisk (chasen)", "17.50"),
        ("Linen tea towel", "11.00"),
    ],
    "Gift sets": [
        ("Coffee discovery box", "39.00"),
        ("Tea ceremony set", "69.00"),
        ("Barista starter kit", "119.00"),
        ("Monthly coffee subscription, 3 months", "89.00"),
        ("Monthly tea subscription, 3 months", "75.00"),
        ("Gift card 25", "25.00"),
        ("Gift card 50", "50.00"),
        ("Gift card 100", "100.00"),
        ("Advent calendar, tea", "34.90"),
        ("Advent calendar, coffee", "39.90"),
        ("Cold brew summer set", "49.00"),
        ("Office coffee bundle", "149.00"),
    ],
}

CARRIERS = [
    ("DHL", "https://www.dhl.com/track?tracking-id={}"),
    ("UPS", "https://www.ups.com/track?tracknum={}"),
    ("DPD", "https://tracking.dpd.de/status/en_US/parcel/{}"),
    ("GLS", "https://gls-group.com/track/{}"),
    ("PostNL", "https://postnl.nl/tracktrace/?B={}"),
]
HUBS = ["Leipzig hub", "Frankfurt hub", "Cologne depot", "Hamburg depot", "Munich depot"]
CHANNELS = [("web", 60), ("store", 18), ("marketplace", 12), ("phone", 5), ("email", 5)]
TAX_RATE = Decimal("0.19")
# Tastes: each buyer leans to two categories, so baskets hold products that go together
# (what the next-best-offer recommendations learn; analytics' evaluation needs it).
TASTES = (
    frozenset({"Coffee", "Brewing gear"}),
    frozenset({"Tea", "Accessories"}),
    frozenset({"Gift sets", "Coffee"}),
)
TASTE_AFFINITY = 6


def _catalogue(currency: str) -> list[Product]:
    products = []
    for c_index, (category, items) in enumerate(CATALOGUE.items()):
        for i, (name, price) in enumerate(items):
            products.append(
                Product(
                    sku=f"{category[:3].upper()}-{c_index + 1}{i + 1:02d}",
                    name=name,
                    category=category,
                    price=Decimal(price),
                    currency=currency,
                    description=f"{name} from the Rapport demo catalogue ({category.lower()}).",
                    active=not (category == "Gift sets" and "Advent" in name),
                )
            )
    return products


def _purchase_times(rng: random.Random, start: dt.datetime, now: dt.datetime) -> list[dt.datetime]:
    """One customer's purchases over [start, now] by the BG/NBD process."""
    if rng.random() > BUYER_SHARE:
        return []
    weeks = (now - start).days / 7
    first = rng.uniform(0, weeks)
    rate = rng.gammavariate(R, 1 / ALPHA) * 3  # a livelier shop than CDNOW's
    dropout = rng.betavariate(A, B)
    times = [first]
    t = first
    while rate > 0:
        if rng.random() < dropout:
            break
        t += rng.expovariate(rate)
        if t >= weeks or len(times) >= 60:
            break
        times.append(t)
    # A time of day during opening hours; a purchase never lands in the future.
    stamped = (start + dt.timedelta(weeks=w, minutes=rng.randint(8 * 60, 21 * 60)) for w in times)
    return [when for when in stamped if when < now]


def _status_for(rng: random.Random, age_days: float) -> str:
    if age_days < 1:
        return rng.choice([OrderStatus.PENDING, OrderStatus.PAID])
    if age_days < 7:
        return rng.choice([OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.SHIPPED])
    roll = rng.random()
    if roll < 0.03:
        return OrderStatus.CANCELLED
    if roll < 0.05:
        return OrderStatus.RETURNED
    return OrderStatus.DELIVERED


def _demo_actor() -> Any:
    user_model = get_user_model()
    return (
        user_model.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
        or user_model.objects.filter(role__is_admin=True, is_active=True).order_by("pk").first()
    )


def load(stdout: Any = None) -> str:
    """Idempotent: the catalogue and the orders are each loaded once."""
    currency = settings.DEFAULT_CURRENCY
    made_products = 0
    if not Product.objects.exists():
        made_products = len(Product.objects.bulk_create(_catalogue(currency)))
    if Order.objects.exists():
        return "Commerce demo data already loaded." if not made_products else ""
    customers = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    actor = _demo_actor()
    if not customers or actor is None:
        return f"Commerce demo: {made_products} products (no customers to give orders to)."
    products = list(Product.objects.filter(active=True, currency=currency).order_by("pk"))
    # Popularity: a few best sellers, a long tail.
    weights = [1 / (i + 1) ** 0.8 for i in range(len(products))]
    rng = random.Random(SEED)
    rng.shuffle(products)
    now = timezone.now()
    start = now - dt.timedelta(days=365 * YEARS)
    rows: list[services.OrderRow] = []
    channels, channel_weights = zip(*CHANNELS, strict=True)
    # A stream of its own, so that orders keep their dates, sizes and statuses.
    taste_rng = random.Random(SEED * 7919)
    for customer_id in customers:
        taste = TASTES[taste_rng.randrange(len(TASTES))]
        leaning = [
            w * (TASTE_AFFINITY if p.category in taste else 1)
            for p, w in zip(products, weights, strict=True)
        ]
        for when in _purchase_times(rng, start, now):
            picks = rng.choices(products, weights=leaning, k=rng.choice([1, 1, 1, 2, 2, 3, 4]))
            lines = []
            seen: set[int] = set()
            for product in picks:
                if product.pk in seen:
                    continue
                seen.add(product.pk)
                lines.append(
                    services.LineInput(product_id=product.pk, quantity=rng.choice([1, 1, 1, 2, 3]))
                )
            subtotal = sum(
                (
                    next(p.price for p in picks if p.pk == ln.product_id) * ln.quantity
                    for ln in lines
                ),
                Decimal("0.00"),
            )
            tax = (subtotal * TAX_RATE).quantize(Decimal("0.01"))
            rows.append(
                services.OrderRow(
                    external_id=f"DEMO-{len(rows) + 1:06d}",
                    customer_id=customer_id,
                    ordered_at=when,
                    currency=currency,
                    lines=lines,
                    status=_status_for(rng, (now - when).total_seconds() / 86400),
                    channel=rng.choices(channels, weights=channel_weights)[0],
                    tax=tax,
                    shipping=Decimal("0.00") if subtotal >= 50 else Decimal("4.90"),
                )
            )
    rows.sort(key=lambda r: r.ordered_at)
    for i, row in enumerate(rows):
        row.external_id = f"DEMO-{i + 1:06d}"
    created = 0
    for chunk_start in range(0, len(rows), 1000):
        with transaction.atomic():
            result = services.orders_bulk_upsert(
                actor=actor, rows=rows[chunk_start : chunk_start + 1000]
            )
        created += result.created
    shipments = _ship_recent_orders(rng, now)
    return (
        f"Commerce demo: {made_products} products, {created} orders for "
        f"{len(customers)} customers, {shipments} shipments."
    )


@transaction.atomic
def _ship_recent_orders(rng: random.Random, now: dt.datetime) -> int:
    """Shipments with tracking for the last 60 days' shipped and delivered orders."""
    recent = list(
        Order.objects.filter(
            ordered_at__gte=now - dt.timedelta(days=60),
            status__in=[OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.RETURNED],
        ).order_by("ordered_at")
    )
    shipments: list[Shipment] = []
    plans: list[list[tuple[str, dt.datetime, str]]] = []
    steps: list[tuple[str, dt.datetime, str]]
    today = timezone.localdate()
    for index, order in enumerate(recent):
        carrier, url = rng.choice(CARRIERS)
        tracking = f"{carrier[:2].upper()}{rng.randint(10**9, 10**10 - 1)}"
        shipped_at = min(
            order.ordered_at + dt.timedelta(hours=rng.randint(8, 40)), now - dt.timedelta(hours=6)
        )
        expected = (shipped_at + dt.timedelta(days=rng.randint(2, 4))).date()
        hub = rng.choice(HUBS)
        steps = [(ShipmentStatus.IN_TRANSIT, shipped_at, hub)]
        if order.status == OrderStatus.SHIPPED:
            roll = rng.random()
            if index % 9 == 4:  # a few parcels stuck, so the overdue case shows
                steps.append((ShipmentStatus.EXCEPTION, now - dt.timedelta(hours=5), hub))
                expected = today - dt.timedelta(days=1)
            elif roll < 0.3:
                steps.append(
                    (ShipmentStatus.OUT_FOR_DELIVERY, now - dt.timedelta(hours=3), "Local depot")
                )
                expected = today
            else:
                expected = max(expected, today + dt.timedelta(days=rng.randint(0, 3)))
        else:
            out = shipped_at + dt.timedelta(days=max(1, (expected - shipped_at.date()).days))
            steps.append((ShipmentStatus.OUT_FOR_DELIVERY, out.replace(hour=7), "Local depot"))
            steps.append((ShipmentStatus.DELIVERED, out.replace(hour=13), "Front door"))
        final = steps[-1]
        shipments.append(
            Shipment(
                order=order,
                customer_id=order.customer_id,
                owner_id=order.owner_id,
                team_id=order.team_id,
                carrier=carrier,
                tracking_number=tracking,
                tracking_url=url.format(tracking),
                status=final[0],
                shipped_at=shipped_at,
                expected_delivery=expected,
                delivered_at=final[1] if final[0] == ShipmentStatus.DELIVERED else None,
            )
        )
        plans.append(steps)
    saved = Shipment.objects.bulk_create(shipments, batch_size=500)
    events = []
    interactions = []
    for shipment, steps in zip(saved, plans, strict=True):
        for status, when, where in steps:
            events.append(
                ShipmentEvent(shipment=shipment, status=status, occurred_at=when, location=where)
            )
            label = ShipmentStatus(status).label.lower()
            interactions.append(
                Interaction(
                    customer_id=shipment.customer_id,
                    kind=InteractionKind.SHIPMENT,
                    channel=Channel.SYSTEM,
                    occurred_at=when,
                    summary=(
                        f"Shipment of order {shipment.order.number} {label} "
                        f"({shipment.carrier} {shipment.tracking_number}) — {where}"
                    ),
                    source_type="commerce.shipment",
                    source_id=str(shipment.pk),
                    data={
                        "shipment_id": shipment.pk,
                        "order_id": shipment.order_id,
                        "status": status,
                        "carrier": shipment.carrier,
                        "tracking_number": shipment.tracking_number,
                        "location": where,
                    },
                )
            )
    ShipmentEvent.objects.bulk_create(events, batch_size=1000)
    Interaction.objects.bulk_create(interactions, batch_size=1000)
    return len(saved)
