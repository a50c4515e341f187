"""Read the person records the engine works on, streaming in batches (two queries in all,
never one per row), into the pandas frame `engine.prepare` expects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from django.db import connection
from django.db.models import QuerySet

from rapport.customers.models import Address, Customer, CustomerKind
from rapport.dedupe.engine import RAW_COLUMNS

BATCH_SIZE = 50_000

_CUSTOMER_FIELDS = [
    "id",
    "external_id",
    "first_name",
    "last_name",
    "birth_date",
    "primary_email",
    "primary_phone",
    "city",
]
_ADDRESS_FIELDS = [
    "customer_id",
    "is_primary",
    "id",
    "line1",
    "line2",
    "postcode",
    "city",
    "region",
]


def persons() -> QuerySet[Customer]:
    """The records duplicate detection looks at: live persons (not merged, not erased)."""
    return Customer.objects.filter(
        kind=CustomerKind.PERSON, merged_into__isnull=True, erased_at__isnull=True
    )


def _frame(qs: QuerySet[Any], fields: list[str], batch_size: int) -> pd.DataFrame:
    """The query Django builds for `values_list(*fields)`, read with a plain (server-side
    on PostgreSQL) cursor in batches: Django's per-row conversion is skipped, which is most
    of the load time at a million rows (dates may arrive as ISO text; `engine.prepare`
    parses them in bulk)."""
    sql, params = qs.order_by().values_list(*fields).query.sql_with_params()
    frames = []
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(batch_size):
            frames.append(pd.DataFrame.from_records(rows, columns=fields))
    if not frames:
        return pd.DataFrame(columns=fields)
    frame = pd.concat(frames, ignore_index=True)
    # PostgreSQL returns an unordered scan in no fixed order; the model's seeded sampling
    # must see the same rows in the same order on every run and both databases.
    return frame.sort_values("id", ignore_index=True) if "id" in fields else frame


def load_persons(*, ids: Iterable[int] | None = None, batch_size: int = BATCH_SIZE) -> pd.DataFrame:
    """One row per person with the primary (else first) address flattened onto it."""
    people = persons()
    addresses = Address.objects.filter(
        customer__kind=CustomerKind.PERSON,
        customer__merged_into__isnull=True,
        customer__erased_at__isnull=True,
    )
    if ids is not None:
        id_list = list(ids)
        people = people.filter(id__in=id_list)
        addresses = addresses.filter(customer_id__in=id_list)
    customers = _frame(people, _CUSTOMER_FIELDS, batch_size)
    address = _frame(addresses, _ADDRESS_FIELDS, batch_size)
    if not address.empty:
        address = address.sort_values(
            ["customer_id", "is_primary", "id"], ascending=[True, False, True]
        ).drop_duplicates("customer_id")
        address = address.rename(columns={"city": "address_city"}).drop(columns=["id"])
        merged = customers.merge(
            address, how="left", left_on="id", right_on="customer_id", validate="one_to_one"
        )
    else:
        merged = customers.assign(
            line1=None, line2=None, postcode=None, address_city=None, region=None
        )
    city = merged["address_city"].where(
        merged["address_city"].fillna("").astype(bool), merged["city"]
    )
    raw = pd.DataFrame(
        {
            "unique_id": merged["id"].astype("int64"),
            "external_id": merged["external_id"],
            "first_name": merged["first_name"],
            "last_name": merged["last_name"],
            "birth_date": merged["birth_date"],
            "email": merged["primary_email"],
            "phone": merged["primary_phone"],
            "line1": merged["line1"],
            "line2": merged["line2"],
            "postcode": merged["postcode"],
            "city": city,
            "region": merged["region"],
        }
    )
    return raw[RAW_COLUMNS]
