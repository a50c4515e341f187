"""Demo customers: ~3,000 people and ~300 organizations with contact points, affiliations,
relationships, tags, consent and three years of timeline, from a seeded generator so
every run of `make run` shows the same data. Written in bulk; loads once."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from rapport.customers import normalize, quality
from rapport.customers.models import (
    Address,
    AddressKind,
    Affiliation,
    Channel,
    ConsentRecord,
    Customer,
    CustomerKind,
    CustomerTag,
    CustomFieldDefinition,
    CustomFieldType,
    Direction,
    EmailAddress,
    Interaction,
    InteractionKind,
    LifecycleStage,
    PhoneNumber,
    Relationship,
    RelationshipKind,
    Tag,
)
from rapport.customers.services import (
    display_name_for,
    remember_search_words,
    search_text_for,
)

PEOPLE = 3000
ORGANIZATIONS = 300
SEED = 20240601
LOCALES = {"en_GB": "GB", "en_US": "US", "de_DE": "DE", "fr_FR": "FR"}
TAGS = ["vip", "newsletter", "wholesale", "event-2024", "partner", "at-risk", "prospect", "b2b"]
INDUSTRIES = ["Retail", "Manufacturing", "Software", "Hospitality", "Logistics", "Healthcare"]
CONSENT_TEXT = "Yes, send me news and offers by e-mail. I can unsubscribe at any time."
SOURCES = ["web form", "referral", "trade fair", "import", "store", "partner"]


def _phone(rng: random.Random, country: str) -> str:
    # Numbers from ranges reserved for drama and examples, so no real person is dialled.
    if country == "US":
        return f"+1202555{rng.randint(100, 199):04d}"
    if country == "DE":
        return f"+49301234{rng.randint(1000, 9999)}"
    if country == "FR":
        return f"+3319900{rng.randint(1000, 9999)}"
    return f"+44207946{rng.randint(0, 999):04d}"[:13]


def _postcode(text: str, country: str) -> str:
    """Faker's postcode in the form the services store; none where it is not a valid one."""
    try:
        return normalize.normalize_postcode(text, country)[:20]
    except ValidationError:
        return ""


def load(stdout: Any = None) -> str:
    if Customer.objects.filter(external_id="demo-org-1").exists():
        return "Demo customers already loaded."
    from faker import Faker

    from rapport.identity.models import Team, User

    rng = random.Random(SEED)
    fakers = {locale: Faker(locale) for locale in LOCALES}
    for i, f in enumerate(fakers.values()):
        f.seed_instance(SEED + i)
    users = list(User.objects.filter(is_active=True).order_by("id"))
    teams = {t.name: t for t in Team.objects.all()}
    owners = [
        u
        for u in users
        if u.email in {"manager@example.com", "rep@example.com", "admin@example.com"}
    ] or users
    north, south = teams.get("North"), teams.get("South")
    now = timezone.now()
    start = now - dt.timedelta(days=3 * 365)

    with transaction.atomic():
        CustomFieldDefinition.objects.get_or_create(
            object_type="customers.customer",
            key="segment",
            defaults={
                "label": "Segment",
                "field_type": CustomFieldType.CHOICE,
                "choices": ["Consumer", "SMB", "Enterprise"],
                "position": 1,
            },
        )
        CustomFieldDefinition.objects.get_or_create(
            object_type="customers.customer",
            key="newsletter_optin_year",
            defaults={
                "label": "Newsletter since",
                "field_type": CustomFieldType.NUMBER,
                "position": 2,
            },
        )
        Tag.objects.bulk_create([Tag(name=n) for n in TAGS], ignore_conflicts=True)
        tags = list(Tag.objects.filter(name__in=TAGS))

        customers: list[Customer] = []
        contact: dict[int, tuple[str, str, str, dict[str, Any]]] = {}
        for i in range(ORGANIZATIONS + PEOPLE):
            locale = rng.choice(list(LOCALES))
            fake, country = fakers[locale], LOCALES[locale]
            created = start + dt.timedelta(seconds=rng.randint(0, 3 * 365 * 86400))
            owner = rng.choice(owners) if owners else None
            team = (
                north
                if owner and owner.email != "admin@example.com"
                else rng.choice([north, south])
            )
            is_org = i < ORGANIZATIONS
            c = Customer(
                kind=CustomerKind.ORGANIZATION if is_org else CustomerKind.PERSON,
                owner=owner,
                team=team,
                created_at=created,
                lifecycle_stage=rng.choices(LifecycleStage.values, weights=[2, 4, 5, 1])[0],
                lifecycle_changed_at=created + dt.timedelta(days=rng.randint(0, 200)),
                source=rng.choice(SOURCES),
                language=locale.split("_")[0],
                external_id=f"demo-org-{i + 1}"
                if is_org
                else f"demo-person-{i + 1 - ORGANIZATIONS}",
                custom_fields={
                    "segment": rng.choice(["SMB", "Enterprise"]) if is_org else "Consumer"
                },
            )
            if is_org:
                c.organization_name = normalize.clean_text(fake.company())[:200]
                c.industry = rng.choice(INDUSTRIES)
                c.website = f"https://www.{fake.domain_name()}"
                domain = c.website.split("www.", 1)[1]
                email = f"info@{domain}"
            else:
                c.first_name = normalize.normalize_name(fake.first_name())
                c.last_name = normalize.normalize_name(fake.last_name())
                job = fake.job() if rng.random() < 0.5 else ""
                c.job_title = normalize.clean_text(job)[:150]
                c.birth_date = fake.date_of_birth(minimum_age=18, maximum_age=85)
                tld = rng.choice(["com", "org", "net"])
                email = f"{c.first_name}.{c.last_name}{rng.randint(1, 99)}@example.{tld}"
                email = "".join(
                    ch for ch in email.lower() if ch.isascii() and (ch.isalnum() or ch in ".@-")
                )
                if rng.random() < 0.3:
                    c.custom_fields["newsletter_optin_year"] = rng.randint(2015, 2024)
            # The demo writes in bulk, past the services: its values take the services'
            # normalisation here, so an export of them re-imports unchanged.
            city = normalize.normalize_name(fake.city())[:100]
            phone = _phone(rng, country)
            c.primary_email, c.primary_phone, c.city, c.country = email, phone, city[:100], country
            c.display_name = display_name_for(c)
            contact[i] = (
                email,
                phone,
                city,
                {
                    "line1": normalize.clean_text(fake.street_address())[:200],
                    "postcode": _postcode(fake.postcode(), country),
                },
            )
            customers.append(c)

        Customer.objects.bulk_create(customers, batch_size=500)
        orgs, people = customers[:ORGANIZATIONS], customers[ORGANIZATIONS:]
        # bulk_create sets pks on SQLite and PostgreSQL.
        emails, phones, addresses = [], [], []
        for i, c in enumerate(customers):
            email, phone, city, addr = contact[i]
            emails.append(
                EmailAddress(
                    customer=c,
                    email=email,
                    kind="work" if c.kind == "organization" else "home",
                    is_primary=True,
                )
            )
            if rng.random() < 0.2 and c.kind == CustomerKind.PERSON:
                emails.append(
                    EmailAddress(customer=c, email=f"{c.pk}.alt@example.net", kind="other")
                )
            phones.append(
                PhoneNumber(customer=c, e164=phone, raw=phone, kind="mobile", is_primary=True)
            )
            addresses.append(
                Address(
                    customer=c,
                    kind=AddressKind.WORK if c.kind == "organization" else AddressKind.HOME,
                    city=city[:100],
                    country=c.country,
                    is_primary=True,
                    **addr,
                )
            )
        EmailAddress.objects.bulk_create(emails, batch_size=1000)
        PhoneNumber.objects.bulk_create(phones, batch_size=1000)
        Address.objects.bulk_create(addresses, batch_size=1000)

        affiliations: list[Affiliation] = []
        org_of: dict[int, Customer] = {}
        for p in people:
            if rng.random() < 0.6:
                org = rng.choice(orgs)
                org_of[p.pk] = org
                affiliations.append(
                    Affiliation(
                        person=p, organization=org, title=p.job_title or "Contact", is_primary=True
                    )
                )
        Affiliation.objects.bulk_create(affiliations, batch_size=1000)

        relationships, seen = [], set()
        for _ in range(400):
            a, b = rng.sample(people, 2)
            kind = rng.choice(
                [RelationshipKind.HOUSEHOLD, RelationshipKind.REFERRED_BY, RelationshipKind.PARTNER]
            )
            if (a.pk, b.pk, kind) not in seen:
                seen.add((a.pk, b.pk, kind))
                relationships.append(Relationship(from_customer=a, to_customer=b, kind=kind))
        Relationship.objects.bulk_create(relationships, batch_size=1000)

        links = [
            CustomerTag(customer=c, tag=t)
            for c in customers
            for t in rng.sample(tags, rng.choice([0, 0, 1, 1, 2, 3]))
        ]
        CustomerTag.objects.bulk_create(links, batch_size=1000)

        consents = []
        for p in people:
            if rng.random() < 0.55:
                granted = p.created_at + dt.timedelta(minutes=3)
                consents.append(
                    ConsentRecord(
                        customer=p,
                        channel="email",
                        purpose="marketing",
                        status="granted",
                        occurred_at=granted,
                        method="web form (double opt-in)",
                        text_shown=CONSENT_TEXT,
                    )
                )
                if rng.random() < 0.15:
                    consents.append(
                        ConsentRecord(
                            customer=p,
                            channel="email",
                            purpose="marketing",
                            status="withdrawn",
                            occurred_at=granted + dt.timedelta(days=rng.randint(10, 400)),
                            method="unsubscribe link",
                        )
                    )
        ConsentRecord.objects.bulk_create(consents, batch_size=1000)

        kinds = [
            (InteractionKind.EMAIL, Channel.EMAIL, "E-mail: {}"),
            (InteractionKind.CALL, Channel.PHONE, "Call: {}"),
            (InteractionKind.MEETING, Channel.IN_PERSON, "Meeting: {}"),
            (InteractionKind.NOTE, Channel.SYSTEM, "{}"),
            (InteractionKind.WEB_EVENT, Channel.WEB, "Visited {}"),
        ]
        topics = [
            "pricing question",
            "renewal",
            "product demo",
            "delivery delay",
            "new catalogue",
            "invoice copy",
            "onboarding",
            "feedback on service",
            "quarterly review",
            "support follow-up",
        ]
        pages = [
            "/pricing",
            "/products/garden-chair",
            "/blog/spring-sale",
            "/contact",
            "/products/desk-lamp",
        ]
        interactions = []
        for c in customers:
            for _ in range(rng.randint(3, 14)):
                ikind, channel, template = rng.choice(kinds)
                when = c.created_at + dt.timedelta(
                    seconds=rng.randint(0, max(1, int((now - c.created_at).total_seconds())))
                )
                subject = (
                    rng.choice(pages) if ikind == InteractionKind.WEB_EVENT else rng.choice(topics)
                )
                interactions.append(
                    Interaction(
                        customer=c,
                        kind=ikind,
                        channel=channel,
                        occurred_at=when,
                        direction=rng.choice([Direction.INBOUND, Direction.OUTBOUND])
                        if ikind in (InteractionKind.EMAIL, InteractionKind.CALL)
                        else "",
                        actor=c.owner,
                        summary=template.format(subject).capitalize(),
                        body=f"Talked about the {subject}. Follow up next week."
                        if ikind == InteractionKind.NOTE
                        else "",
                    )
                )
        Interaction.objects.bulk_create(interactions, batch_size=2000)

        # search_text needs the organizations of each person: derive it now, in bulk.
        for i, c in enumerate(customers):
            email, phone, _city, _addr = contact[i]
            employer = org_of.get(c.pk)
            c.search_text = search_text_for(
                c, [email], [phone], [employer.organization_name] if employer else []
            )
        Customer.objects.bulk_update(customers, ["search_text"], batch_size=500)
        remember_search_words(customers)
        quality.rescore(Customer.objects.filter(pk__in=[c.pk for c in customers]))
    # Fresh statistics after a bulk load, or the planner guesses (SQLite then sorts the
    # whole table by name instead of reading the name index).
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE customers_customer, customers_interaction")
        elif connection.vendor == "sqlite":
            cursor.execute("ANALYZE")
    return (
        f"Demo customers: {len(people)} people, {len(orgs)} organizations, "
        f"{len(interactions)} timeline entries."
    )
