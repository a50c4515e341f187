"""Fixtures for import/export tests: files written to the test's temp folder."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HEADER = [
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "organization",
    "birth_date",
    "address_line1",
    "address_line2",
    "city",
    "postcode",
    "region",
    "country",
    "tags",
]


def contact(i: int, **overrides: str) -> dict[str, str]:
    row = {
        "external_id": f"X{i:05d}",
        "first_name": "ada",
        "last_name": f"LOVELACE{i}" if i % 2 else f"Byron{i}",
        "email": f"ada{i}@example.com",
        "phone": f"+33 6 12 34 {i // 100 % 100:02d} {i % 100:02d}",
        "organization": "",
        "birth_date": "1990-12-10",
        "address_line1": f"{i} Rue de Rivoli",
        "address_line2": "",
        "city": "paris",
        "postcode": "75001",
        "region": "",
        "country": "FR",
        "tags": "vip; newsletter",
    }
    row.update(overrides)
    return row


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    def write(
        rows: list[dict[str, str]],
        name: str = "contacts.csv",
        header: list[str] | None = None,
        delimiter: str = ",",
        encoding: str = "utf-8",
    ) -> Path:
        path = tmp_path / name
        columns = header or (list(rows[0]) if rows else HEADER)
        with path.open("w", encoding=encoding, newline="") as out:
            writer = csv.DictWriter(out, fieldnames=columns, delimiter=delimiter)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: row.get(k, "") for k in columns})
        return path

    return write


def read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))
