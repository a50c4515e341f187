"""The demo duplicates: re-entered copies of real people, recognisable, loaded once."""

from __future__ import annotations

import pytest

from rapport.customers.models import Customer
from rapport.customers.tests.factories import person
from rapport.dedupe import demo
from rapport.dedupe.check import likely_duplicates
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_demo_duplicates_copy_real_people_and_load_once():
    admin = UserFactory(is_superuser=True)
    originals = [
        person(admin, f"Person{i}", f"Surname{i}", emails=[f"p{i}@example.com"])
        for i in range(demo.DUPLICATES + 5)
    ]
    assert "40 re-entered" in demo.load()
    copies = list(Customer.objects.filter(source=demo.MARK))
    assert len(copies) == demo.DUPLICATES
    by_email = {o.primary_email: o.pk for o in originals}
    sharing_an_email = 0
    for copy in copies:
        if copy.primary_email not in by_email:
            continue  # another e-mail or none: full detection's job, not the quick check
        sharing_an_email += 1
        matches = likely_duplicates(
            first_name=copy.first_name,
            last_name=copy.last_name,
            email=copy.primary_email,
            phone=copy.primary_phone,
            birth_date=copy.birth_date,
            exclude_id=copy.pk,
        )
        assert by_email[copy.primary_email] in [pk for pk, _p in matches]
    assert sharing_an_email >= demo.DUPLICATES / 3
    assert demo.load() == "Demo duplicates already loaded."
    assert Customer.objects.filter(source=demo.MARK).count() == demo.DUPLICATES
