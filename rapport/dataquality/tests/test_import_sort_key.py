"""The import builds customer rows itself (bulk insert): it writes the name sort key too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rapport.customers.models import Customer
from rapport.dataquality.services import run_import

from .conftest import contact

pytestmark = pytest.mark.django_db


def test_the_bulk_import_writes_the_key(write_csv: Callable[..., Path]) -> None:
    path = write_csv(
        [contact(1, first_name="Émile", last_name="Zola", organization="de la Cruz SA")]
    )
    result, _ = run_import(actor=None, object_type="contacts", path=path, mapping=None)
    assert result.created == 1
    assert Customer.objects.get(external_id="X00001").sort_name == "emile zola"
    assert Customer.objects.get(kind="organization").sort_name == "cruz sa de la"
    # An update by the import recomputes it too.
    path = write_csv([contact(1, first_name="Élodie", last_name="Zola")], name="b.csv")
    run_import(actor=None, object_type="contacts", path=path, mapping=None)
    assert Customer.objects.get(external_id="X00001").sort_name == "elodie zola"
