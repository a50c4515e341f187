"""Demo activities: for each demo user, some overdue tasks, some due today, meetings and
calls in the coming days, and calls logged over the past weeks with their outcomes, on
the demo customers' timelines. Written through the services (audit, events, timeline)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from rapport.activities import services
from rapport.activities.models import Activity
from rapport.core.permissions import system_actor
from rapport.customers import selectors as customer_selectors

SEED = 13
TASKS = [
    "Send the proposal",
    "Follow up on the quote",
    "Check the delivery date",
    "Prepare the renewal offer",
    "Ask for a referral",
    "Update the contact details",
    "Share the product sheet",
]
CALLS = ["Discovery call", "Check-in call", "Payment reminder", "Onboarding call"]
MEETINGS = ["Quarterly review", "Product demo", "Contract negotiation"]
OUTCOMES = ["connected", "connected", "connected", "voicemail", "no_answer", "busy"]


def load(stdout: Any = None) -> str:
    """Idempotent: loaded once, when there are no activities yet."""
    if Activity.objects.exists():
        return "Activities demo data already loaded."
    actor = system_actor()
    users = list(
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(role__name="Read-only")
        .order_by("pk")[:10]
    )
    customers = list(customer_selectors.customer_list(actor=actor).order_by("pk")[:60])
    if not users or not customers:
        return "Activities demo: no users or customers to plan for."
    rng = random.Random(SEED)
    now = timezone.now().replace(second=0, microsecond=0)
    made = 0
    for user in users:

        def plan(
            kind: str, subject: str, when: dt.datetime, user: Any = user, **fields: Any
        ) -> None:
            nonlocal made
            services.activity_create(
                actor=actor,
                data=services.ActivityInput(
                    kind=kind,
                    subject=subject,
                    customer_id=rng.choice(customers).pk,
                    due_at=when,
                    owner_id=user.pk,
                    priority=rng.choice([1, 2, 2, 2, 3]),
                    **fields,
                ),
            )
            made += 1

        for _ in range(3):  # overdue
            plan("task", rng.choice(TASKS), now - dt.timedelta(hours=rng.randint(2, 96)))
        for hours in (1, 3, 5):  # later today (or just after midnight, late in the day)
            plan("call", rng.choice(CALLS), now + dt.timedelta(hours=hours), reminder_at=now)
        for day in range(1, 6):  # the coming days
            start = (now + dt.timedelta(days=day)).replace(hour=10, minute=0)
            plan("meeting", rng.choice(MEETINGS), start, starts_at=start, location="Office")
            plan("task", rng.choice(TASKS), start + dt.timedelta(hours=6))
        for _ in range(6):  # calls logged over the past weeks
            services.call_log(
                actor=actor,
                owner_id=user.pk,
                customer_id=rng.choice(customers).pk,
                subject=rng.choice(CALLS),
                direction=rng.choice(["in", "out", "out"]),
                occurred_at=now - dt.timedelta(days=rng.randint(1, 40), hours=rng.randint(0, 8)),
                duration_seconds=rng.randint(30, 1500),
                outcome=rng.choice(OUTCOMES),
                notes="Talked through the open points; next step agreed.",
            )
            made += 1
    return f"Activities: {made} tasks, calls and meetings for {len(users)} users."
