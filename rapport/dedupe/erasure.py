"""What erasing a person (GDPR) means for duplicates: the merge history forgets them."""

from __future__ import annotations

from typing import Any

from rapport.customers.models import Customer


def on_customer_erased(*, actor: Any, customer: Customer, **kwargs: Any) -> None:
    from rapport.customers import services as customer_services
    from rapport.dedupe.merge import scrub_for_erasure

    scrub_for_erasure(customer_id=customer.pk)
    # Records merged into this person are the same person: erase them too.
    for tombstone in Customer.objects.filter(merged_into=customer, erased_at__isnull=True):
        customer_services.customer_erase(actor=actor, customer=tombstone)
