"""Shared setup of the import/export benchmarks: a fresh database, seeded contacts CSV."""

from __future__ import annotations

import csv
import os
import random
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

FIRST = [
    "Anna",
    "Ben",
    "Chloé",
    "David",
    "Emma",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kenji",
    "Lea",
    "Mateo",
    "Nora",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tara",
    "Ugo",
    "Vera",
    "Wen",
    "Yusuf",
    "Zoé",
    "anne-marie",
    "O'BRIEN",
    "José",
    "Łukasz",
    "Søren",
]
LAST = [
    "Smith",
    "Martin",
    "Müller",
    "Rossi",
    "García",
    "Dubois",
    "Nowak",
    "Jansen",
    "Silva",
    "Kowalski",
    "van der Berg",
    "Nguyen",
    "Khan",
    "Cohen",
    "Ivanova",
    "Larsen",
    "Costa",
    "Schmidt",
    "Moreau",
    "Fischer",
    "O'Neil",
    "MCDONALD",
    "da Silva",
    "Ng",
    "Okafor",
]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.fr", "example.com", "web.de", "acme.io", "mail.nl"]
PLACES = [  # (city, country, postcode pattern, phone: international or national form)
    ("Paris", "FR", "750{:02d}", "+33 6 12 {:02d} {:02d} {:02d}"),
    ("Lyon", "France", "6900{:01d}", "06 12 {:02d} {:02d} {:02d}"),
    ("Berlin", "DE", "10{:03d}", "+49 1512 345{:04d}"),
    ("Amsterdam", "NL", "10{:02d} AB", "+31 6 1234{:04d}"),
    ("New York", "US", "100{:02d}", "(201) 555-{:04d}"),
    ("London", "United Kingdom", "SW1A {:d}AA", "+44 7400 {:06d}"),
    ("Madrid", "ES", "280{:02d}", "+34 612 34{:04d}"),
]
TAGS = ["vip", "newsletter", "b2b", "event-2025", "churn-risk", "partner", "trial"]
ORGS = [
    f"{n} {s}"
    for n in ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli")
    for s in ("Ltd", "GmbH", "SA", "BV", "Inc")
]
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


def _fill(pattern: str, rng: random.Random) -> str:
    count = pattern.count("{")
    return pattern.format(
        *[rng.randint(0, 99) if "02d" in pattern else rng.randint(0, 9999) for _ in range(count)]
    )


def generate_contacts(path: Path, rows: int, seed: int = 42, bad_every: int = 500) -> None:
    """A realistic contacts file: names, e-mails, phones in national and international
    formats, addresses, tags, a few organizations, and one bad row in `bad_every`."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            city, country, postcode, phone = rng.choice(PLACES)
            email = f"{first.lower()}.{last.lower().replace(' ', '')}{i}@{rng.choice(DOMAINS)}"
            email = email.replace("'", "")
            row = [
                f"C{i:08d}",
                first,
                last,
                email,
                f"+1 201 555 {rng.randint(0, 9999):04d}"
                if country == "US" and rng.random() < 0.3
                else _phone(phone, rng),
                rng.choice(ORGS) if rng.random() < 0.2 else "",
                f"{rng.randint(1940, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                if rng.random() < 0.6
                else "",
                f"{rng.randint(1, 200)} {rng.choice(['Main St', 'Rue de la Paix', 'Hauptstr.'])}",
                "",
                city,
                _postcode(postcode, rng),
                "",
                country,
                ";".join(rng.sample(TAGS, rng.randint(0, 2))),
            ]
            if bad_every and i % bad_every == bad_every - 1:
                row[3] = "not-an-email"
            writer.writerow(row)


def _phone(pattern: str, rng: random.Random) -> str:
    if "{:06d}" in pattern:
        return pattern.format(rng.randint(0, 999999))
    if "{:04d}" in pattern:
        return pattern.format(rng.randint(0, 9999))
    return pattern.format(*[rng.randint(10, 99) for _ in range(3)])


def _postcode(pattern: str, rng: random.Random) -> str:
    if "{:03d}" in pattern:
        return pattern.format(rng.randint(100, 999))
    if "{:01d}" in pattern:
        return pattern.format(rng.randint(1, 9))
    if "{:d}AA" in pattern:
        return pattern.format(rng.randint(1, 9))
    return pattern.format(rng.randint(1, 20))


def setup_django(database_url: str | None, workdir: Path) -> str:
    """Point Rapport at a fresh database (SQLite file in `workdir` unless a URL is given)."""
    if database_url:
        import psycopg

        base, _, name = database_url.rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["RAPPORT_VAR_DIR"] = str(workdir / "var")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.db import connection

    return connection.vendor


def import_contacts_file(csv_path: Path, run: Any, batch_size: int) -> Any:
    """Import `csv_path` with the real engine, as `rapport import contacts` does, into
    `run` (an ImportRun); returns the ImportResult."""
    from rapport.dataquality.services import run_import

    result, _ = run_import(
        actor=None,
        object_type="contacts",
        path=csv_path,
        mapping=None,
        run=run,
        batch_size=batch_size,
    )
    return result


def spreadsheet_from_csv(csv_path: Path, file_format: str) -> Path:
    """The CSV's rows written as an XLSX (openpyxl, streaming) or ODS (odfpy) file."""
    import csv

    target = csv_path.with_suffix(f".{file_format}")
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    if file_format == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("Contacts")
        for row in rows:
            sheet.append(row)
        book.save(target)
        return target
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    table = Table(name="Contacts")
    for row in rows:
        table_row = TableRow()
        for value in row:
            cell = TableCell(valuetype="string")
            cell.addElement(P(text=value))
            table_row.addElement(cell)
        table.addElement(table_row)
    document.spreadsheet.addElement(table)
    document.save(str(target))
    return target


def peak_rss_mb() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / 1024 if sys.platform != "darwin" else usage / 1024 / 1024


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="rapport-bench-"))
