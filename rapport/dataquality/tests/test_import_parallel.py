"""Validation in worker processes gives what validation in the importing process gives,
in file order, and a dead worker loses no row."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import override_settings

from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.customers.models import Customer, CustomFieldDefinition
from rapport.customers.normalize import clean_text
from rapport.dataquality.importing import ContactRow, RowError, RowValidator
from rapport.dataquality.mapping import resolve, suggest
from rapport.dataquality.parallel import ValidationPool
from rapport.dataquality.services import run_import

from .conftest import HEADER, contact

pytestmark = pytest.mark.django_db

CUSTOM_HEADER = [*HEADER, "Shoe size"]


def _rows(n: int) -> list[tuple[int, list[str]]]:
    rows = []
    for i in range(n):
        row = contact(i, organization="Acme SA" if i % 4 == 0 else "")
        if i % 9 == 4:
            row["email"] = "not-an-email"
        if i % 11 == 5:
            row["phone"] = "12"
        if i % 13 == 6:
            row["birth_date"] = "31/12/1990"
        if i % 5 == 1:
            row["phone"] = f"+1 201 555 {i:04d}"
            row["country"] = "US"
            row["postcode"] = "10001"
        rows.append((i + 2, [*row.values(), "big" if i % 17 == 3 else str(30 + i % 15)]))
    return rows


def _validator() -> RowValidator:
    CustomFieldDefinition.objects.create(key="shoe_size", label="Shoe size", field_type="number")
    from rapport.customers.custom_fields import definitions

    resolved = resolve(suggest(CUSTOM_HEADER, "contacts", fuzzy=False), CUSTOM_HEADER, "contacts")
    return RowValidator(resolved.positions, definitions("customers.customer"))


class _DyingValidator(RowValidator):
    """Kills the worker process that validates row 40 (never the test's own process)."""

    def validate(self, number: int, cells: list[str]) -> ContactRow | list[RowError]:
        if number == 40 and multiprocessing.parent_process() is not None:
            os._exit(1)
        return super().validate(number, cells)


def test_worker_outcomes_equal_in_process_outcomes_in_file_order() -> None:
    validator = _validator()
    rows = _rows(150)
    serial = [validator.validate(number, cells) for number, cells in rows]
    assert sum(isinstance(o, list) for o in serial) > 20  # the bad rows are there
    assert any(not isinstance(o, list) and o.custom == {"shoe_size": 31} for o in serial)
    pool = ValidationPool(validator, processes=2, chunk_rows=7)
    try:
        parallel = list(pool.outcomes(iter(rows)))
    finally:
        pool.close(wait=True)
    assert [n for n, _, _ in parallel] == [n for n, _ in rows]
    assert [o for _, _, o in parallel] == serial  # raw cells, search text, errors: all equal


def test_a_dead_worker_loses_no_row() -> None:
    plain = _validator()
    validator = _DyingValidator(plain.positions, plain.custom_defs)
    rows = _rows(100)
    pool = ValidationPool(validator, processes=1, chunk_rows=10)
    try:
        parallel = [o for _, _, o in pool.outcomes(iter(rows))]
    finally:
        pool.close()
    assert parallel == [plain.validate(number, cells) for number, cells in rows]


@override_settings(IMPORT_PARALLEL_AFTER_ROWS=10, IMPORT_VALIDATION_PROCESSES=1)
def test_import_with_a_validation_worker_commits_every_good_row_once(
    write_csv: Callable[..., Path],
) -> None:
    rows = [contact(i, organization="Acme" if i % 3 == 0 else "") for i in range(120)]
    for i in range(5, 120, 10):
        rows[i]["email"] = "broken"
    path = write_csv(rows)
    first, _ = run_import(
        actor=None, object_type="contacts", path=path, mapping=None, batch_size=25
    )
    assert (first.created, first.updated, first.failed) == (108, 0, 12)
    assert sorted(e.row for e in first.errors) == list(range(7, 122, 10))
    assert Customer.objects.filter(kind="person").count() == 108
    ada = Customer.objects.get(external_id="X00003")
    assert ada.display_name == "Ada Lovelace3"
    assert "acme" in ada.search_text and "612340003" in ada.search_text
    assert AuditLogEntry.objects.filter(action="create").count() == 109  # + the organization
    assert OutboxEvent.objects.filter(type="customer.created").count() == 109
    second, _ = run_import(
        actor=None, object_type="contacts", path=path, mapping=None, batch_size=25
    )
    assert (second.created, second.updated, second.unchanged, second.failed) == (0, 0, 108, 12)
    assert Customer.objects.filter(kind="person").count() == 108


@pytest.mark.parametrize(
    "text",
    [
        "Rue de la Paix 12",
        "a  b",
        "tab\there",
        "nbsp\u00a0here",
        "zero\u200bwidth",
        "x" * 101,
        "ok",
    ],
)
def test_clean_shortcut_gives_clean_text(text: str) -> None:
    validator = RowValidator({}, {})
    try:
        expected: object = clean_text(text, max_length=100)
    except Exception as exc:
        expected = type(exc)
    try:
        got: object = validator._clean(text, 100)
    except Exception as exc:
        got = type(exc)
    assert got == expected
