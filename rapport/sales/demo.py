"""Demo data: two pipelines, leads in every status, and deals across the stages with a
stage history reaching back up to three years. Quick: a few hundred rows in bulk."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from rapport.core.permissions import system_actor
from rapport.customers.models import Customer
from rapport.sales import services
from rapport.sales.models import (
    Deal,
    DealStageChange,
    DealStatus,
    Lead,
    LeadStatus,
    Pipeline,
    Stage,
)

PIPELINES = {
    "New business": [
        ("Qualification", 10, False, False),
        ("Discovery", 25, False, False),
        ("Proposal", 50, False, False),
        ("Negotiation", 75, False, False),
        ("Won", 100, True, False),
        ("Lost", 0, False, True),
    ],
    "Renewals": [
        ("Up for renewal", 60, False, False),
        ("In negotiation", 80, False, False),
        ("Renewed", 100, True, False),
        ("Churned", 0, False, True),
    ],
}
FIRST = ["Anna", "Ben", "Chloé", "David", "Emma", "Farid", "Greta", "Hugo", "Ines", "Jonas"]
LAST = ["Schmidt", "Martin", "Rossi", "Nowak", "Dubois", "Jensen", "Costa", "Weber", "Silva"]
ORGS = ["Acme GmbH", "Nordwind AG", "Lumen SARL", "Tessera BV", "Quarry Ltd", "Blau & Co"]
SOURCES = ["web form", "trade show", "referral", "webinar", "cold call"]


@transaction.atomic
def load(stdout: Any = None) -> str:
    if Pipeline.objects.exists():
        return "sales: already loaded"
    rng = random.Random(13)
    actor = system_actor()
    stages: dict[str, list[Stage]] = {}
    for index, (name, spec) in enumerate(PIPELINES.items()):
        pipeline = services.pipeline_create(
            actor=actor,
            data=services.PipelineInput(name=name, position=index, is_default=index == 0),
        )
        stages[name] = [
            services.stage_create(
                actor=actor,
                pipeline=pipeline,
                data=services.StageInput(
                    name=s,
                    probability=p,
                    is_won=won,
                    is_lost=lost,
                    required_fields=["amount", "expected_close_date"] if s == "Proposal" else None,
                    notify_owner=won,
                ),
            )
            for s, p, won, lost in spec
        ]
    now = timezone.now()
    leads = []
    for i in range(60):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        status = rng.choice(
            [
                LeadStatus.NEW,
                LeadStatus.NEW,
                LeadStatus.WORKING,
                LeadStatus.QUALIFIED,
                LeadStatus.DISQUALIFIED,
            ]
        )
        leads.append(
            Lead(
                first_name=first,
                last_name=last,
                email=f"{first.lower()}.{last.lower()}{i}@example.com".replace("é", "e"),
                organization_name=rng.choice(ORGS),
                title=rng.choice(["CTO", "Buyer", "CEO", ""]),
                source=rng.choice(SOURCES),
                utm_source=rng.choice(["google", "linkedin", ""]),
                status=status,
                score=rng.randint(0, 100),
                disqualify_reason="No budget" if status == LeadStatus.DISQUALIFIED else "",
                created_at=now - dt.timedelta(days=rng.randint(0, 90)),
            )
        )
    Lead.objects.bulk_create(leads)
    customers = list(Customer.objects.order_by("id").values_list("id", "owner_id", "team_id")[:300])
    if not customers:
        return f"sales: 2 pipelines, {len(leads)} leads (no customers for deals)"
    deals: list[Deal] = []
    paths: list[list[tuple[Stage, dt.datetime]]] = []
    for i in range(300):
        pipeline_name = "New business" if i % 4 else "Renewals"
        ladder = stages[pipeline_name]
        open_stages = [s for s in ladder if not s.is_closed]
        started = now - dt.timedelta(days=rng.randint(5, 3 * 365))
        steps = rng.randint(1, len(open_stages))
        path = [(open_stages[k], started + dt.timedelta(days=9 * k)) for k in range(steps)]
        if started < now - dt.timedelta(days=120):  # old deals are closed
            closing = ladder[-2] if rng.random() < 0.4 else ladder[-1]
            path.append((closing, path[-1][1] + dt.timedelta(days=14)))
        stage, entered = path[-1]
        cid, owner_id, team_id = customers[i % len(customers)]
        deals.append(
            Deal(
                name=f"{rng.choice(['Platform', 'Support', 'Licences', 'Rollout'])} {i + 1}",
                customer_id=cid,
                owner_id=owner_id,
                team_id=team_id,
                pipeline_id=stage.pipeline_id,
                stage=stage,
                status=DealStatus.WON
                if stage.is_won
                else DealStatus.LOST
                if stage.is_lost
                else DealStatus.OPEN,
                amount=Decimal(rng.randrange(1_000, 80_000, 250)),
                currency="EUR",
                probability=stage.probability,
                expected_close_date=(now + dt.timedelta(days=rng.randint(-30, 150))).date(),
                next_step="Send proposal" if not stage.is_closed else "",
                stage_entered_at=entered,
                closed_at=entered if stage.is_closed else None,
                created_at=started,
            )
        )
        paths.append(path)
    Deal.objects.bulk_create(deals)
    history = []
    for deal, path in zip(deals, paths, strict=True):
        previous = None
        for stage, at in path:
            history.append(
                DealStageChange(
                    deal=deal,
                    pipeline_id=stage.pipeline_id,
                    from_stage=previous,
                    to_stage=stage,
                    changed_at=at,
                    amount=deal.amount,
                    via="system",
                )
            )
            previous = stage
    DealStageChange.objects.bulk_create(history, batch_size=1000)
    return (
        f"sales: 2 pipelines, {len(leads)} leads, {len(deals)} deals, {len(history)} stage changes"
    )
