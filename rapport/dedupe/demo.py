"""Demo duplicates: re-entered copies of some demo people (a typo, another e-mail, a phone
typed nationally, a nickname), so the duplicates queue has work in it. The worker's first
scheduled full detection run finds them; `rapport dedupe` does too. Loads once."""

from __future__ import annotations

import random
from typing import Any

from django.db import transaction

from rapport.core.permissions import system_actor
from rapport.customers import services
from rapport.customers.models import Customer, CustomerKind
from rapport.customers.services import AddressInput, CustomerInput, EmailInput, PhoneInput

DUPLICATES = 40
SEED = 20241123
MARK = "demo-duplicate"


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swap two letters


def load(stdout: Any = None) -> str:
    if Customer.objects.filter(source=MARK).exists():
        return "Demo duplicates already loaded."
    people = list(
        Customer.objects.filter(kind=CustomerKind.PERSON, merged_into__isnull=True)
        .exclude(primary_email="")
        .prefetch_related("addresses")
        .order_by("pk")[:2000]
    )
    if not people:
        return "Demo duplicates: no people to copy."
    rng = random.Random(SEED)
    actor = system_actor()
    made = 0
    with transaction.atomic():
        for original in rng.sample(people, min(DUPLICATES, len(people))):
            # Copies as people re-enter them, from near-identical to barely alike, so the
            # queue shows the model's real spread of probabilities (not every pair at the
            # top): a typo, another e-mail, an initial, no e-mail; moved house with no
            # birth date given; a surname typo with no phone and no birth date.
            variant = rng.randrange(6)
            first, last = original.first_name, original.last_name
            email = original.primary_email
            birth_date = original.birth_date if variant < 4 else None
            phone = original.primary_phone if variant != 5 else ""
            address = next(iter(original.addresses.all()), None) if variant != 4 else None
            if variant == 0:
                last = _typo(rng, last)
            elif variant == 1:
                local, _, _domain = email.partition("@")
                email = f"{local}@{rng.choice(['gmail.com', 'outlook.com', 'web.de'])}"
            elif variant == 2:
                first = first[:1] + "."
            elif variant == 5:
                last = _typo(rng, last)
            services.customer_create(
                actor=actor,
                data=CustomerInput(
                    kind=CustomerKind.PERSON,
                    first_name=first,
                    last_name=last,
                    birth_date=birth_date,
                    source=MARK,
                    emails=[EmailInput(email=email)] if variant != 3 else [],
                    phones=[PhoneInput(number=phone)] if phone else [],
                    addresses=[
                        AddressInput(
                            line1=address.line1,
                            city=address.city,
                            postcode=address.postcode,
                            country=address.country,
                        )
                    ]
                    if address
                    else [],
                    owner_id=original.owner_id,
                    team_id=original.team_id,
                ),
            )
            made += 1
    return f"Demo duplicates: {made} re-entered people for the duplicates queue."
